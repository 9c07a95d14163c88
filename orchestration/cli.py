"""`salesdw`: generate demo exports, run the pipeline, inspect what happened.

Exit codes of `salesdw run` / `salesdw demo`: orchestration/exit_codes.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestration import exit_codes
from orchestration.dbt_launcher import warm_dbt
from orchestration.metrics_cli import metrics_app
from orchestration.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
console = Console(highlight=False)

EXIT_FAILED, EXIT_LOCKED = exit_codes.FAILED, exit_codes.LOCKED

DataDir = Annotated[
    Optional[Path], typer.Option("--data-dir", help="Data directory (default $SALESDW_DATA_DIR or ./data).")
]


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the exports into (one sub-folder per entity).")],
    scale: Annotated[float, typer.Option(help="1 = about 1,000 accounts and 60,000 order lines over 24 months.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical files.")] = 42,
    start: Annotated[str, typer.Option(help="First month of data, YYYY-MM.")] = "2024-01",
    months: Annotated[int, typer.Option(help="Number of months of data.")] = 24,
    dirty: Annotated[bool, typer.Option(help="Add a known, reported number of bad rows and files.")] = False,
    flavor: Annotated[
        str,
        typer.Option(
            click_type=click.Choice(["canonical", "zh"]),
            help=(
                "canonical: the format of exports.md (profile canonical); zh: the same data as a Chinese CRM "
                "exports it (profile crm_zh: write it to <data dir>/landing/crm_zh)."
            ),
        ),
    ] = "canonical",
    currencies: Annotated[
        Optional[str],
        typer.Option(
            help=(
                "e.g. CNY,USD,EUR: orders spread over these currencies with their monthly rates in fx_rates "
                "(the same company: its marts equal the CNY-only twin's within demo/currencies.py's rounding bound)."
            )
        ),
    ] = None,
) -> None:
    """Write synthetic exports for a fictional company in the canonical format (exports.md)."""
    from demo import generate as generate_exports

    started = time.monotonic()
    currency_list = _currency_list(currencies, flavor, dirty) if currencies else None  # before minutes of work
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(entity: str, done: int, total: int) -> None:
            if entity not in tasks:
                tasks[entity] = bar.add_task(entity, total=total)
            bar.update(tasks[entity], completed=done, total=total)

        report = generate_exports(
            out, scale=scale, seed=seed, start=start, months=months, dirty=dirty, progress=progress, flavor=flavor
        )
        if currency_list:
            _currency_twin(out, currency_list, seed)
    table = Table(title=f"Exports written to {out}", show_edge=False)
    table.add_column("entity")
    table.add_column("rows", justify="right")
    for entity, rows in _report_counts(report).items():
        table.add_row(entity, f"{rows:,}")
    console.print(table)
    if dirty:
        console.print(f"dirty mode: defects injected as listed in {out / '_manifest.json'}")
    console.print(f"done in {time.monotonic() - started:.1f} s")


def _currency_list(currencies: str, flavor: str, dirty: bool) -> list[str]:
    from demo.currencies import check_currencies

    if flavor != "canonical" or dirty:
        raise typer.BadParameter("works with --flavor canonical, without --dirty", param_hint="--currencies")
    codes = [c.strip() for c in currencies.split(",") if c.strip()]
    try:
        check_currencies(codes, get_settings().reporting_currency)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--currencies") from None
    return codes


def _currency_twin(out: Path, currencies: list[str], seed: int) -> None:
    from demo.currencies import write_currency_twin

    rates = write_currency_twin(out, currencies, seed, get_settings().reporting_currency)
    console.print(f"orders in {', '.join(currencies)}: {rates} monthly rates in {out / 'fx_rates'}")


def _report_counts(report) -> dict[str, int]:
    counts = getattr(report, "rows", None) or getattr(report, "counts", None) or {}
    return dict(counts)


@app.command()
def run(
    landing: Annotated[
        Optional[Path],
        typer.Option(
            help="One export folder to read with --profile (default: every <data dir>/landing/<profile>/ folder)."
        ),
    ] = None,
    profile: Annotated[
        str, typer.Option(help="Source profile for --landing (a name in ingestion/profiles/ or a YAML path).")
    ] = "canonical",
    data_dir: DataDir = None,
    engine: Annotated[
        Optional[str],
        typer.Option(
            click_type=click.Choice(["duckdb", "spark"]),
            help=(
                "Engine for the dbt build (default $SALESDW_ENGINE or duckdb). spark needs the optional "
                "`spark` dependency group and builds through the dbt profile's `spark` target."
            ),
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help=("Rebuild every month of every table (by default a run rebuilds the months its new data touched)."),
        ),
    ] = False,
    rebuild_months: Annotated[
        Optional[str],
        typer.Option(
            help=("Rebuild these months too, e.g. 2025-03,2025-04 (a fix, or data the refresh could not see).")
        ),
    ] = None,
) -> None:
    """Ingest, build, check and publish."""
    if engine:
        os.environ["SALESDW_ENGINE"] = engine  # the Dagster resources read their settings from the environment
    settings = get_settings(data_dir)
    if full_refresh or rebuild_months:
        from orchestration import refresh

        try:
            months = refresh.parse_months(rebuild_months) if rebuild_months else []
        except ValueError as exc:
            console.print(str(exc), style="red", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED) from exc
        refresh.request(settings.warehouse_dir, full=full_refresh, months=months)
    raise typer.Exit(_run(settings, landing=landing, profile=profile))


def _run(settings, *, landing: Path | None, profile: str) -> int:
    # first: dbt imports in a process of its own while this one imports Dagster and ingests
    with warm_dbt(settings.data_dir, settings.engine):
        return _run_pipeline(settings, landing=landing, profile=profile)


def _run_pipeline(settings, *, landing: Path | None, profile: str) -> int:
    from orchestration import gc_policy

    gc_policy.enable_for_this_process()  # one run, then the process exits
    with gc_policy.long_lived_imports():
        import orchestration.definitions  # noqa: F401  (Dagster, dagster-dbt, dbt: loaded once, kept)
        from orchestration.run_lock import RunLockBusy, run_lock
        from orchestration.runner import run_pipeline
        from orchestration.summary import print_run_summary, record_finished

    if landing is not None and not landing.is_dir():
        console.print(f"--landing {landing}: not a folder", style="red", markup=False, soft_wrap=True)
        return EXIT_FAILED
    settings.ensure_dirs()
    started = time.monotonic()
    try:
        with run_lock(settings.lock_file):
            outcome = run_pipeline(settings, landing=landing, profile=profile)
    except RunLockBusy as exc:
        console.print(f"[red]{exc}[/]", soft_wrap=True)
        return EXIT_LOCKED
    print_run_summary(console, settings, outcome, elapsed=time.monotonic() - started)
    code = exit_codes.exit_code(outcome)
    record_finished(settings, outcome, code)
    return code


@app.command()
def demo(
    scale: Annotated[float, typer.Option(help="Size of the demo company (1 = about 60,000 order lines).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    data_dir: DataDir = None,
) -> None:
    """Generate the demo exports into <data dir>/landing/canonical and run the whole pipeline."""
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    generate(out=settings.landing_dir / "canonical", scale=scale, seed=seed)
    raise typer.Exit(_run(settings, landing=None, profile="canonical"))


@app.command()
def status(data_dir: DataDir = None) -> None:
    """What was loaded, rejected and quarantined, and when the warehouse was last published."""
    from orchestration.summary import print_status

    print_status(console, get_settings(data_dir))


@app.command()
def retire(
    target: Annotated[
        str,
        typer.Argument(
            help=(
                "A batch id, or a landed file: its path under the landing folder, or as the ledger records it "
                "(relative to its profile's folder, e.g. accounts/accounts.csv; every loaded batch of it)."
            )
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger as retired_reason).")],
    profile: Annotated[Optional[str], typer.Option(help="Only batches of this profile.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Take a loaded batch back out: it stays in the raw zone, nothing downstream reads it, its content
    loads again when landed again, and the next build is a full refresh."""
    from ingestion.retire import NothingToRetire
    from ingestion.retire import retire as retire_batches
    from orchestration.progress import literal
    from orchestration.run_lock import RunLockBusy, run_lock

    settings = get_settings(data_dir)
    try:
        with run_lock(settings.lock_file):
            retired = retire_batches(
                target,
                reason,
                quality_dir=settings.quality_dir,
                profile=profile,
                landing_dir=settings.landing_dir,
                warehouse_dir=settings.warehouse_dir,
            )
    except RunLockBusy as exc:
        console.print(literal(str(exc), "red"), soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except (NothingToRetire, ValueError) as exc:
        console.print(literal(str(exc), "red"), soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    for r in retired:
        console.print(
            literal(f"retired {r.batch_id} ({r.profile}/{r.file_path}, {r.rows_loaded:,} rows of {r.entity})"),
            soft_wrap=True,
        )
    console.print(
        "The next `salesdw run` rebuilds the warehouse without them (a full refresh). A retired file still "
        "in the landing folder is read again by that run: replace or remove it first.",
        soft_wrap=True,
    )


@app.command()
def report(
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    data_dir: DataDir = None,
) -> None:
    """Regenerate the HTML sales report from the published warehouse."""
    from orchestration.serving.report import write_report

    settings = get_settings(data_dir)
    if not settings.serving_warehouse.exists():
        console.print(
            f"[red]no published warehouse at {settings.serving_warehouse}: run `salesdw run` first[/]", soft_wrap=True
        )
        raise typer.Exit(EXIT_FAILED)
    path = write_report(settings.serving_warehouse, settings.reports_dir, lang=lang)
    console.print(f"report written: {path}")


@app.command("check-profile")
def check_profile(
    profile: Annotated[str, typer.Argument(help="Profile name or YAML path.")],
    landing: Annotated[
        Optional[Path],
        typer.Option(
            "--landing",
            help=(
                "A landing folder: for each file the profile would read, which mapped columns are present, "
                "missing-optional (read as NULL) or missing-required (the file is rejected)."
            ),
        ),
    ] = None,
) -> None:
    """Validate a source profile and list what it maps (or, with --landing, what each file holds)."""
    from ingestion.profile import ProfileError, load_profile

    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        console.print(f"[red]{exc}[/]", soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    console.print(f"profile {profile!r} is valid")
    if landing is None:
        console.print(loaded)
        return
    _print_landing_report(loaded, landing)


def _print_landing_report(profile, landing: Path) -> None:
    from ingestion.columns import MISSING_REQUIRED, landing_report

    report = landing_report(profile, landing)
    if not report:
        console.print(f"no file under {landing} matches profile {profile.name!r}")
    for rel, entity, rows in report:
        if isinstance(rows, str):
            console.print(f"[red]{rel} ({entity}): {rows}[/]", soft_wrap=True)
            continue
        table = Table(title=f"{rel} -> {entity}", title_justify="left")
        for header in ("canonical column", "source", "status"):
            table.add_column(header)
        for row in rows:
            style = "red" if row.status == MISSING_REQUIRED else ("yellow" if row.status != "present" else "")
            table.add_row(row.canonical, row.source, f"[{style}]{row.status}[/]" if style else row.status)
        console.print(table)


app.add_typer(metrics_app, name="metrics")

if __name__ == "__main__":
    app()
