"""The salesdw benchmark: `make bench` (scales 1, 10, 50) and `make bench-large` (adds 500).

    .venv/bin/python -m bench.run --scales 1 10 50 [--seed 42] [--incremental-scales 10 50] [--no-pandas]
        [--repeat 3]

For every scale: generate the exports (cached by scale and seed under bench/.cache), run the full
pipeline (`salesdw run` in a fresh data dir, as its own process) and time each stage from the
Dagster event log; then compute the same two marts (mart_rep_kpi_monthly, dim_customers) from the
same files with plain DuckDB (bench/floor.sql, the floor) and plain pandas, and check that all
three agree row for row. With --repeat N the full run and the floor are measured N times,
alternately (this VM's speed drifts within minutes: alternating gives both the same spells), and
the tables show the median of each; every time measured is listed beside it. At each incremental
scale (every scale unless told), one more day of orders, order lines, activities and survey
responses is landed and the pipeline re-run on the same data dir; then the same raw zone is built
from scratch in another data dir, and the two build warehouses must hold the same rows in every
stored table (issue 23: equality with a full rebuild).
Results: a Rich table on screen, bench/results/<timestamp>.json and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.compare import compare_outputs, output_marts, pipeline_marts
from bench.compare_warehouses import compare as compare_warehouses
from bench.measure import Measured, run_measured
from bench.stages import STAGES, dbt_profile, disk_bytes, ingested, read_stages, stage_of

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_CACHE = REPO / "bench" / ".cache"
DEFAULT_RESULTS = REPO / "bench" / "results"
MB = 1_000_000
# what differs between two builds of the same raw zone by design: the raw views (paths), the check
# results (run ids) and the refresh's control table
NOT_COMPARED = ("raw", "quality", "control")

console = Console(highlight=False)


# --- environment and data ---------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment of every measured process: no telemetry, no data dir inherited, room for the
    large generated workbooks."""
    env = {
        **os.environ,
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PYTHONPATH": str(REPO),
        # the generated budgets workbook inflates to 130 MB of XML at scale 500, past the 128 MB
        # guard against hostile workbooks (ingestion/limits.py): the bench's own exports are trusted
        "SALESDW_XLSX_MAX_BYTES": str(1024**3),
    }
    for name in ("DAGSTER_HOME", "SALESDW_DATA_DIR"):
        env.pop(name, None)
    return env


def scale_name(scale: float) -> str:
    return f"s{scale:g}"


def cached_exports(cache: Path, scale: float, seed: int) -> dict:
    """The canonical exports of (scale, seed), generated once and kept: {folder, generate, rows, cached}."""
    root = cache / "exports" / f"{scale_name(scale)}-seed{seed}"
    folder, stamp = root / "canonical", root / "generate.json"
    if stamp.exists():
        return {"folder": folder, **json.loads(stamp.read_text()), "cached": True}
    shutil.rmtree(root, ignore_errors=True)
    console.print(f"generating scale {scale:g} (seed {seed}) into {folder}")
    measured = run_measured(
        [str(BIN / "salesdw"), "generate", "--out", str(folder), "--scale", f"{scale:g}", "--seed", str(seed)],
        log=root / "generate.log",
        env=child_env(),
        cwd=REPO,
    )
    if not measured.ok:
        raise SystemExit(f"salesdw generate failed, see {measured.log}")
    manifest = json.loads((folder / "_manifest.json").read_text())
    record = {"generate": measured.as_dict(), "rows": manifest["row_counts"]}
    stamp.write_text(json.dumps(record, indent=2))
    return {"folder": folder, **record, "cached": False}


def cached_next_day(cache: Path, exports: dict, scale: float, seed: int) -> dict:
    """One more day of events after the exports' period, in its own folder (the cached exports stay
    as generated): {folder, date, files, rows}."""
    from demo import MANIFEST_NAME, generate_next_day

    root = cache / "exports" / f"{scale_name(scale)}-seed{seed}-next-day"
    folder, stamp = root / "canonical", root / "next_day.json"
    if not stamp.exists():
        shutil.rmtree(root, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copyfile(exports["folder"] / MANIFEST_NAME, folder / MANIFEST_NAME)  # ids continue from it
        stamp.write_text(json.dumps(generate_next_day(folder, scale=scale, seed=seed), indent=2))
    return {"folder": folder, **json.loads(stamp.read_text())}


def land(files: list[Path], data_dir: Path) -> None:
    """Put export files into <data>/landing/canonical/<entity>/ as hard links (no copy of the data;
    ingestion never follows a symlink out of the landing folder)."""
    for source in files:
        target = data_dir / "landing" / "canonical" / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another file system
            shutil.copyfile(source, target)


# --- the three computations -------------------------------------------------------------------


def pipeline_run(data_dir: Path, log: Path) -> dict:
    """`salesdw run` on data_dir as a measured process, with its stage times and what it ingested."""
    measured = run_measured(
        [str(BIN / "salesdw"), "run", "--data-dir", str(data_dir)], log=log, env=child_env(), cwd=REPO
    )
    stages = read_stages(data_dir)
    seconds = stages.stages
    # process start, definitions, dbt manifest check, run summary: the CLI's own share
    seconds["startup and summary"] = max(measured.seconds - sum(stages.steps.values()), 0.0)
    rows = ingested(data_dir, stages.started_at - 1)
    stage_peaks: dict[str, int] = {}
    for step, (start, end) in stages.windows.items():
        stage = stage_of(step)
        stage_peaks[stage] = max(stage_peaks.get(stage, 0), measured.peak_between(start, end))
    return {
        "measured": measured.as_dict(),
        "ok": measured.ok and not stages.failed_steps,
        "run_id": stages.run_id,
        "stage_seconds": {k: round(v, 2) for k, v in seconds.items()},
        "step_seconds": {k: round(v, 2) for k, v in sorted(stages.steps.items(), key=lambda kv: -kv[1])},
        "stage_peak_rss": stage_peaks,
        "failed_steps": stages.failed_steps,
        "ingested": rows,
        "ingest_rows_per_second": round(rows["rows_read"] / seconds["ingest"]) if seconds["ingest"] else None,
        "dbt": dbt_profile(data_dir),
        "disk_bytes": {
            "serving_warehouse": disk_bytes(data_dir / "warehouse" / "sales.duckdb"),
            "build_warehouse": disk_bytes(data_dir / "warehouse" / "build.duckdb"),
            "raw_zone": disk_bytes(data_dir / "raw"),
        },
    }


def reference_rebuild(data_dir: Path, into: Path, log: Path) -> dict:
    """The same raw zone and ledger built from scratch in another data dir (`run --full-refresh`),
    then compared with data_dir's build warehouse table by table: the refresh's equality check."""
    shutil.rmtree(into, ignore_errors=True)
    # raw batches are never rewritten (append-only), so hard links are a faithful copy
    shutil.copytree(data_dir / "raw", into / "raw", copy_function=os.link)
    shutil.copytree(data_dir / "quality", into / "quality")
    (into / "landing").mkdir()
    measured = run_measured(
        [str(BIN / "salesdw"), "run", "--full-refresh", "--data-dir", str(into)], log=log, env=child_env(), cwd=REPO
    )
    build = "warehouse/build.duckdb"
    differences = (
        compare_warehouses(data_dir / build, into / build, skipped=NOT_COMPARED) if measured.ok else ["rebuild failed"]
    )
    return {"measured": measured.as_dict(), "differences": differences}


def baseline_run(
    module: str, exports: Path, out: Path, log: Path, *, memory_limit: int | None, timeout: float | None
) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    return run_measured(
        [sys.executable, "-m", module, "--exports", str(exports), "--out", str(out)],
        log=log,
        env=child_env(),
        cwd=REPO,
        memory_limit=memory_limit,
        timeout=timeout,
    )


def agreement(warehouse: Path, out: Path, measured: Measured | None) -> dict[str, list[str]] | None:
    """Differences per mart between the published marts and a floor/pandas output; None when
    either side is missing (the pipeline did not publish, the baseline did not finish)."""
    if measured is None or not measured.ok or not warehouse.exists():
        return None
    return compare_outputs(pipeline_marts(warehouse), output_marts(out))


def full_runs_and_floors(
    args, scale: float, exports: Path, data_dir: Path, floor_dir: Path, logs: Path
) -> tuple[dict, Measured, dict]:
    """The full run (each in a fresh data_dir, the last one left there) and the floor, alternately,
    args.repeat times: the run with the median time, the floor with the median time, and every
    time measured."""
    fulls, floors = [], []
    for i in range(args.repeat):
        round_note = f" (round {i + 1} of {args.repeat})" if args.repeat > 1 else ""
        shutil.rmtree(data_dir, ignore_errors=True)
        land(sorted(p for p in exports.glob("*/*") if p.is_file()), data_dir)
        console.print(f"[bold]scale {scale:g}[/]: pipeline (full refresh){round_note}")
        fulls.append(pipeline_run(data_dir, logs / "pipeline.log"))
        console.print(f"[bold]scale {scale:g}[/]: floor (plain DuckDB){round_note}")
        floors.append(
            baseline_run("bench.floor", exports, floor_dir, logs / "floor.log", memory_limit=None, timeout=args.timeout)
        )
    samples = {
        "pipeline s": [round(r["measured"]["seconds"], 1) for r in fulls],
        "floor s": [round(m.seconds, 1) for m in floors],
    }
    return median_of(fulls, lambda r: r["measured"]["seconds"]), median_of(floors, lambda m: m.seconds), samples


def median_of(items: list, seconds) -> object:
    """The item whose seconds are the median (of an even count, the lower of the middle two)."""
    return sorted(items, key=seconds)[(len(items) - 1) // 2]


def bench_scale(args, scale: float) -> dict:
    name = scale_name(scale)
    runs = args.cache_dir / "runs" / name
    logs = args.cache_dir / "logs" / name
    exports = cached_exports(args.cache_dir, scale, args.seed)
    data_dir = runs / "data"
    shutil.rmtree(runs, ignore_errors=True)
    full, floor, samples = full_runs_and_floors(args, scale, exports["folder"], data_dir, runs / "floor", logs)
    result = {
        "scale": scale,
        "seed": args.seed,
        "rows": exports["rows"],
        "generate": {
            "seconds": round(exports["generate"]["seconds"], 2),
            "cached": exports["cached"],
            "peak_tree_rss": exports["generate"]["peak_tree_rss"],
        },
        "pipeline": full,
        "samples": samples,
    }
    warehouse = data_dir / "warehouse" / "sales.duckdb"
    # the last run's marts against the last floor's: every run computes them from the same files
    result["floor"] = {"measured": floor.as_dict(), "differences": agreement(warehouse, runs / "floor", floor)}
    if not args.no_pandas:
        console.print(f"[bold]scale {scale:g}[/]: plain pandas")
        pandas = baseline_run(
            "bench.pandas_marts",
            exports["folder"],
            runs / "pandas",
            logs / "pandas.log",
            memory_limit=int(args.pandas_memory_limit_gb * 1e9),
            timeout=args.timeout,
        )
        result["pandas"] = {"measured": pandas.as_dict(), "differences": agreement(warehouse, runs / "pandas", pandas)}

    if scale in args.incremental_scales and full["ok"]:
        next_day = cached_next_day(args.cache_dir, exports, scale, args.seed)
        land([next_day["folder"] / path for path in next_day["files"].values()], data_dir)
        console.print(f"[bold]scale {scale:g}[/]: incremental refresh (one more day: {next_day['date']})")
        incremental = pipeline_run(data_dir, logs / "pipeline-incremental.log")
        incremental["next_day"] = {"date": next_day["date"], "rows": next_day["rows"]}
        # the refreshed marts must equal a computation from scratch over all files now landed
        landed = data_dir / "landing" / "canonical"
        floor_all = baseline_run(
            "bench.floor",
            landed,
            runs / "floor-incremental",
            logs / "floor-incremental.log",
            memory_limit=None,
            timeout=args.timeout,
        )
        incremental["floor_differences"] = agreement(warehouse, runs / "floor-incremental", floor_all)
        console.print(f"[bold]scale {scale:g}[/]: full rebuild of the same raw zone, compared table by table")
        incremental["rebuild"] = reference_rebuild(data_dir, runs / "reference", logs / "pipeline-reference.log")
        result["incremental"] = incremental
    return result


# --- report -----------------------------------------------------------------------------------


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / MB:,.0f}"


def _agree(differences: dict | None) -> str:
    if differences is None:
        return "not compared"
    return "identical" if not any(differences.values()) else "DIFFERENT"


def _rebuild(incremental: dict) -> str:
    rebuild = incremental.get("rebuild")
    if rebuild is None:
        return "not compared"
    n = len(rebuild["differences"])
    return "identical" if not n else f"DIFFERENT ({n})"


def _finished(measured: dict | None) -> bool:
    return measured is not None and measured["returncode"] == 0 and measured["stopped"] is None


def summary_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """The benchmark table: one row per figure, one column per scale."""
    columns = []
    for r in results:
        p, m = r["pipeline"], r["pipeline"]["measured"]
        floor = r["floor"]["measured"]
        pandas = r.get("pandas", {}).get("measured")
        if pandas is None:
            pandas_cell = "not run"
        elif _finished(pandas):
            pandas_cell = _s(pandas["seconds"])
        else:
            pandas_cell = f"did not finish ({pandas['stopped'] or 'exit ' + str(pandas['returncode'])})"
        columns.append(
            {
                "order lines": f"{r['rows'].get('order_lines', 0):,}",
                "generate s": _s(r["generate"]["seconds"]) + (" (cached)" if r["generate"]["cached"] else ""),
                **{f"{stage} s": _s(p["stage_seconds"].get(stage)) for stage in STAGES},
                "start-up and summary s": _s(p["stage_seconds"]["startup and summary"]),
                "pipeline total s": _s(m["seconds"])
                + ("" if p["ok"] else " (failed: " + (", ".join(p["failed_steps"]) or f"exit {m['returncode']}") + ")"),
                "pipeline CPU s": _s(m["cpu_seconds"]),
                "ingest rows/s": f"{p['ingest_rows_per_second']:,}" if p["ingest_rows_per_second"] else "—",
                "peak RSS MB (process tree)": _mb(m["peak_tree_rss"]),
                "peak RSS MB (largest process)": _mb(m["peak_process_rss"]),
                "warehouse MB (serving file)": _mb(p["disk_bytes"]["serving_warehouse"]),
                "raw zone MB": _mb(p["disk_bytes"]["raw_zone"]),
                "floor s (plain DuckDB)": _s(floor["seconds"]) if _finished(floor) else "failed",
                "floor peak RSS MB": _mb(floor["peak_tree_rss"]),
                "pandas s": pandas_cell,
                "pandas peak RSS MB": _mb(pandas["peak_tree_rss"]) if pandas else "—",
                "pipeline / floor": f"{m['seconds'] / floor['seconds']:.1f}" if _finished(floor) else "—",
                "pandas / pipeline": f"{pandas['seconds'] / m['seconds']:.2f}" if _finished(pandas) else "—",
                "floor = pipeline": _agree(r["floor"]["differences"]),
                "pandas = pipeline": _agree(r.get("pandas", {}).get("differences")),
                "one-day refresh s": _s(r["incremental"]["measured"]["seconds"]) if "incremental" in r else "—",
                "refresh = full rebuild": _rebuild(r["incremental"]) if "incremental" in r else "not run",
                "load average (1 min)": f"{(m['load_before'] + m['load_after']) / 2:.1f}",
                **_sample_rows(r),
            }
        )
    header = ["", *(f"scale {r['scale']:g}" for r in results)]
    rows = [[name, *(c[name] for c in columns)] for name in (columns[0] if columns else {})]
    return header, rows


def _sample_rows(r: dict) -> dict[str, str]:
    """Every time measured, when the full run and the floor were measured more than once."""
    samples = r.get("samples") or {}
    if len(samples.get("pipeline s", [])) < 2:
        return {}
    return {f"{name}, every round": " / ".join(f"{v:.1f}" for v in values) for name, values in samples.items()}


def targets(results: list[dict]) -> list[tuple[str, str, str, bool]]:
    """(target, limit, measured, met) for the issue's targets that this run measured."""
    by_scale = {r["scale"]: r for r in results}
    out = []
    if 1 in by_scale:
        seconds = by_scale[1]["pipeline"]["measured"]["seconds"]
        out.append(("scale 1 full run", "< 45 s", f"{seconds:.1f} s", seconds < 45))
    if 50 in by_scale:
        r = by_scale[50]
        seconds, floor = r["pipeline"]["measured"]["seconds"], r["floor"]["measured"]["seconds"]
        for issue, extra in ((18, 30), (23, 20)):
            limit = 2 * floor + extra
            out.append(
                (
                    f"scale 50 full run vs floor (issue {issue})",
                    f"≤ 2 × floor + {extra} s = {limit:.1f} s",
                    f"{seconds:.1f} s",
                    seconds <= limit,
                )
            )
        peak = r["pipeline"]["measured"]["peak_tree_rss"]
        out.append(("scale 50 peak RSS", "< 2,000 MB", f"{peak / MB:,.0f} MB", peak < 2e9))
    if 10 in by_scale:
        r = by_scale[10]
        dbt, checks = r["pipeline"]["stage_seconds"]["dbt build"], r["pipeline"]["stage_seconds"]["checks"]
        seconds = r["pipeline"]["measured"]["seconds"]
        out.append(("scale 10 full dbt build (issue 4)", "< 60 s", f"{dbt:.1f} s", dbt < 60))
        if "incremental" in r:
            inc = r["incremental"]["stage_seconds"]["dbt build"]
            out.append(
                (
                    "scale 10 dbt build after one more day (issue 4)",
                    f"< 10% of full ({0.1 * dbt:.1f} s)",
                    f"{inc:.1f} s = {inc / dbt:.0%}",
                    inc < 0.1 * dbt,
                )
            )
        # the GX suites and the freshness checks; the dbt data tests run inside the dbt build
        share = checks / (seconds - checks)
        out.append(
            (
                "scale 10 checks' share of the run without them (issue 5)",
                "< 20%",
                f"{checks:.1f} s / {seconds - checks:.1f} s = {share:.0%}",
                share < 0.2,
            )
        )
    if 500 in by_scale:
        peak = by_scale[500]["pipeline"]["measured"]["peak_tree_rss"]
        out.append(("scale 500 peak RSS", "< 3,000 MB", f"{peak / MB:,.0f} MB", peak < 3e9))
    for r in results:
        if "incremental" in r:
            out += _refresh_targets(r)
    return out


# the one-day refresh's share of the full run: issue 23 at 50 and 500, issue 4 at 10
REFRESH_SHARE = {10: 0.15, 50: 0.40, 500: 0.15}


def _refresh_targets(r: dict) -> list[tuple[str, str, str, bool]]:
    full = r["pipeline"]["measured"]["seconds"]
    inc = r["incremental"]["measured"]["seconds"]
    out = []
    share = REFRESH_SHARE.get(r["scale"])
    if share is not None:
        out.append(
            (
                f"scale {r['scale']:g} one-day incremental refresh",
                f"≤ {share:.0%} of full ({share * full:.1f} s)",
                f"{inc:.1f} s = {inc / full:.0%}",
                inc <= share * full,
            )
        )
    ceiling = {50: 2e9, 500: 3e9}.get(r["scale"])
    if ceiling is not None:
        peak = r["incremental"]["measured"]["peak_tree_rss"]
        out.append(
            (
                f"scale {r['scale']:g} refresh peak RSS",
                f"< {ceiling / MB:,.0f} MB",
                f"{peak / MB:,.0f} MB",
                peak < ceiling,
            )
        )
    return out


def markdown(results: list[dict], meta: dict) -> str:
    header, rows = summary_rows(results)
    lines = [
        f"# salesdw benchmark — {meta['started']}",
        "",
        f"Machine: {meta['cpus']} CPUs, {meta['memory_gb']:.0f} GB RAM, {meta['platform']}; "
        f"seed {meta['seed']}; DuckDB memory limit {meta['duckdb_memory_limit']}. "
        "The load average (1 min) is shown per run: other work on the machine slows every figure.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        "Pipeline s = wall time of `salesdw run` (ingest → dbt build → checks → publish → report, "
        "plus process start-up); floor = bench/floor.sql in DuckDB; pandas = bench/pandas_marts.py; both "
        "compute mart_rep_kpi_monthly and dim_customers only, from the same export files. "
        "Peak RSS = the whole process tree, sampled every 0.1 s.",
        "",
        "## Targets",
        "",
        "| target | limit | measured | met |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {t} | {limit} | {value} | {'yes' if met else '**no**'} |" for t, limit, value, met in targets(results)
    ]
    for r in results:
        if "incremental" in r:
            inc = r["incremental"]
            lines += [
                "",
                f"## Incremental refresh at scale {r['scale']:g}",
                "",
                f"One more day ({inc['next_day']['date']}): "
                + ", ".join(f"{n:,} {e}" for e, n in inc["next_day"]["rows"].items())
                + ". "
                f"Ingested {inc['ingested']['files_loaded']} new files "
                f"({', '.join(inc['ingested']['entities_loaded'])}), {inc['ingested']['rows_read']:,} rows; "
                f"{inc['ingested']['files_other']} other ledger rows. Refreshed marts against the floor "
                f"computed from scratch over all landed files: {_agree(inc.get('floor_differences'))}. "
                f"Every stored table against a full rebuild of the same raw zone: {_rebuild(inc)}.",
                "",
                "| stage | full s | incremental s |",
                "|---|---|---|",
            ]
            for stage, seconds in r["pipeline"]["stage_seconds"].items():
                lines.append(f"| {stage} | {seconds:.1f} | {inc['stage_seconds'].get(stage, 0):.1f} |")
            lines.append(
                f"| **total** | {r['pipeline']['measured']['seconds']:.1f} | {inc['measured']['seconds']:.1f} |"
            )
            node_full, node_inc = r["pipeline"]["dbt"].get("node_seconds", {}), inc["dbt"].get("node_seconds", {})
            event_models = [n for n in ("int_order_lines", "mart_sales_by_product_monthly") if n in node_inc]
            for node in event_models:
                rows_inc = next((x["rows_affected"] for x in inc["dbt"]["slowest"] if x["node"] == node), None)
                lines.append("")
                lines.append(
                    f"dbt `{node}` (incremental model): {node_full.get(node, 0):.1f} s full, "
                    f"{node_inc[node]:.1f} s incremental"
                    + (f", {rows_inc:,} rows written" if rows_inc is not None else "")
                    + "."
                )
    lines += ["", "## Where the time goes", ""]
    for r in results:
        p = r["pipeline"]
        dbt = p["dbt"]
        lines.append(
            f"- scale {r['scale']:g}: steps "
            + ", ".join(f"{k} {v:.1f} s" for k, v in list(p["step_seconds"].items())[:6])
        )
        if p.get("stage_peak_rss"):
            lines.append(
                "  peak RSS (process tree) by stage: "
                + ", ".join(f"{k} {_mb(v)} MB" for k, v in p["stage_peak_rss"].items() if v)
            )
        if dbt:
            lines.append(
                f"  dbt: {dbt['nodes']} nodes, {dbt['elapsed']:.1f} s elapsed; summed node time "
                + ", ".join(f"{k} {v:.1f} s" for k, v in dbt["seconds_by_type"].items())
                + "; slowest: "
                + ", ".join(f"{n['node']} {n['seconds']:.1f} s" for n in dbt["slowest"][:5])
            )
    differences = [
        (r["scale"], who, mart, d)
        for r in results
        for who in ("floor", "pandas")
        for mart, d in ((r.get(who) or {}).get("differences") or {}).items()
        if d
    ]
    differences += [
        (r["scale"], "floor after the incremental refresh", mart, d)
        for r in results
        for mart, d in ((r.get("incremental") or {}).get("floor_differences") or {}).items()
        if d
    ]
    differences += [
        (
            r["scale"],
            "full rebuild after the incremental refresh",
            "build warehouse",
            r["incremental"]["rebuild"]["differences"],
        )
        for r in results
        if (r.get("incremental") or {}).get("rebuild", {}).get("differences")
    ]
    if differences:
        lines += ["", "## Differences", ""]
        lines += [f"- scale {s:g}, {who}, {mart}: {'; '.join(d)[:2000]}" for s, who, mart, d in differences]
    return "\n".join(lines) + "\n"


def print_table(results: list[dict]) -> None:
    header, rows = summary_rows(results)
    table = Table(title="salesdw benchmark", show_edge=False)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for target, limit, value, met in targets(results):
        console.print(f"  {'[green]met[/]' if met else '[red]missed[/]'}  {target}: {value} ({limit})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 50])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--incremental-scales",
        "--incremental-scale",
        type=float,
        nargs="+",
        default=None,
        help="scales of the one-day incremental refresh and its equality check (default: every scale; 0: none)",
    )
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas comparison")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each scale's full run and floor this many times, alternately, and compare their medians",
    )
    parser.add_argument(
        "--pandas-memory-limit-gb",
        type=float,
        default=12.0,
        help="stop the pandas run when its memory passes this (reported as not finished)",
    )
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds before a floor/pandas run is stopped")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    args.cache_dir = args.cache_dir.resolve()
    if args.incremental_scales is None:
        args.incremental_scales = args.scales

    from orchestration.settings import get_settings

    meta = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "memory_gb": os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb_memory_limit": get_settings().duckdb_memory_limit,
        "scales": args.scales,
        "repeat": args.repeat,
    }
    results = []
    began = time.perf_counter()
    for scale in args.scales:
        results.append(bench_scale(args, scale))
        print_table(results)  # progress: the table so far
    meta["seconds"] = round(time.perf_counter() - began, 1)

    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = args.results_dir / f"{stamp}.json"
    json_path.write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    (args.results_dir / "latest.md").write_text(markdown(results, meta))
    console.print(f"results: {json_path} and {args.results_dir / 'latest.md'}")
    comparisons = [r[who]["differences"] for r in results for who in ("floor", "pandas") if who in r]
    comparisons += [r["incremental"].get("floor_differences") for r in results if "incremental" in r]
    agree = all(_agree(d) == "identical" for d in comparisons if d is not None)
    agree = agree and all(_rebuild(r["incremental"]) == "identical" for r in results if "incremental" in r)
    return 0 if agree and all(r["pipeline"]["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
