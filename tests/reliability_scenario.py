"""One hostile day in the life of a data directory, shared by the crash and concurrency tests.

Starting from the demo company's exports (the same files the session's `demo_run` loaded in one
uninterrupted run) and a copy of that run's published warehouse as "yesterday's publish":

1. `salesdw run` is SIGKILLed at each stage in turn, by the crash points of common/faults.py:
   during the ingestion of a file, during the audit, during the dbt build, during the publish;
   the state of the data directory is recorded after every kill;
2. then two plain `salesdw run` are started at the same moment;
3. all along, a separate reader process polls the serving warehouse like a BI tool.

The outcome is written once as JSON (the runs take minutes) and every test reads it; the session's
workers share it through a lock like conftest's demo_run, and the test modules that use it run on
one xdist worker (same xdist_group), so it is computed once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb

from common.faults import CRASH_AT_ENV
from ingestion.ledger import read_ledger
from orchestration.dbt_launcher import SERVE_FLAG
from tests.conftest import REPO, SALESDW, DemoRun

# Crash points in the order the runs hit them. checks:1 is the first audit suite (the raw layer's,
# run in the background during the dbt build, which dies with the run); a later suite costs one
# more full dbt build per test session.
CRASHES = ("ingest:3", "checks:1", "dbt:12", "publish")
RUN_TIMEOUT = 1200
XDIST_GROUP = "reliability_scenario"

# What a dashboard tile would show: a few marts' row counts and money totals (exact decimals).
READER_QUERY = """
    select (select count(*) from marts.mart_rep_kpi_monthly), (select sum(net_revenue) from marts.mart_rep_kpi_monthly),
           (select count(*) from marts.fct_opportunities), (select sum(amount) from marts.fct_opportunities),
           (select count(*) from marts.dim_customers), (select sum(lifetime_net_revenue) from marts.dim_customers)
"""

READER = textwrap.dedent("""
    import json, os, sys, time, duckdb
    path, out, stop, query = sys.argv[1:5]
    held = duckdb.connect(path, read_only=True)  # a BI tool that keeps its connection open
    with open(out, "w") as log:
        while not os.path.exists(stop):
            started = time.monotonic()
            seen = {"inode": os.stat(path).st_ino}
            try:
                with duckdb.connect(path, read_only=True) as con:  # a dashboard refresh
                    seen["fresh"] = [str(v) for v in con.execute(query).fetchone()]
                seen["held"] = [str(v) for v in held.execute(query).fetchone()]
            except Exception as exc:
                seen["error"] = repr(exc)
            seen["seconds"] = time.monotonic() - started
            log.write(json.dumps(seen) + "\\n")
            log.flush()
            time.sleep(0.25)
    held.close()
""")


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def run_env(data_dir: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", CRASH_AT_ENV)}
    return {
        **env,
        "SALESDW_DATA_DIR": str(data_dir),
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **(extra or {}),
    }


def start_run(data_dir: Path, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [SALESDW, "run"], env=run_env(data_dir, extra_env), cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT
    )


def dbt_processes(data_dir: Path) -> list[int]:
    """Live dbt processes building this data dir's warehouse (dagster-dbt sets DBT_TARGET_PATH), and
    the run's warm dbt (started before it with SALESDW_DATA_DIR; orchestration/dbt_launcher.py)."""
    launched = f"DBT_TARGET_PATH={data_dir / 'dbt_target'}".encode()
    warm = f"SALESDW_DATA_DIR={data_dir}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ, cmdline = (proc / "environ").read_bytes().split(b"\0"), (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if (launched in environ and b"dbt" in cmdline) or (warm in environ and SERVE_FLAG.encode() in cmdline):
            found.append(int(proc.name))
    return found


def orphaned_dbt_after_kill(data_dir: Path, grace: float = 15.0) -> list[int]:
    """dbt processes still alive `grace` seconds after their run was killed (then ended here)."""
    deadline = time.monotonic() + grace
    while (alive := dbt_processes(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in alive:  # descendants of our own run: do not let them disturb the next steps
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


def batch_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")) if folder.exists() else []


def leftovers(data_dir: Path) -> list[str]:
    """Temporary files and folders a killed process may leave behind."""
    found = [p for p in data_dir.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("ingest-")]
    found += [p for p in (data_dir / "warehouse").glob("*.tmp*")]
    return sorted({p.relative_to(data_dir).as_posix() for p in found})


def state(data_dir: Path) -> dict:
    ledger = read_ledger(data_dir / "quality")
    committed = set(ledger.batch_id)
    raw = batch_files(data_dir / "raw")
    return {
        "ledger": json.loads(
            ledger[
                [
                    "batch_id",
                    "entity",
                    "file_path",
                    "file_sha256",
                    "status",
                    "rows_read",
                    "rows_loaded",
                    "rows_quarantined",
                ]
            ].to_json(orient="records")
        ),
        "raw_batches": raw,
        "orphan_batches": [b for b in raw if Path(b).stem not in committed],
        "serving_sha256": sha256(data_dir / "warehouse" / "sales.duckdb"),
        "leftovers": leftovers(data_dir),
        "publish_log": (data_dir / "warehouse" / "publish_log.jsonl").read_text().splitlines()
        if (data_dir / "warehouse" / "publish_log.jsonl").exists()
        else [],
    }


def mart_rows(warehouse: Path) -> dict[str, dict]:
    """Per mart: its columns and every row, each value as JSON holds it (floats as floats, the rest
    as exact text: decimals, dates), sorted, so two warehouses compare row for row whatever order
    their rows are stored in."""
    marts: dict[str, dict] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        for table in tables:
            cursor = con.execute(f"select * from marts.{table}")
            columns = [d[0] for d in cursor.description]
            rows = [[v if v is None or isinstance(v, float) else str(v) for v in row] for row in cursor.fetchall()]
            rows.sort(
                key=lambda row: [
                    (v is None, "" if v is None else round(v, 9) if isinstance(v, float) else v) for v in row
                ]
            )
            marts[table] = {"columns": columns, "rows": rows}
    return marts


def reader_polls(logs: Path) -> int:
    """Polls the reader has answered so far (one flushed line each)."""
    path = logs / "reader.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def run_scenario(data_dir: Path, demo: DemoRun) -> dict:
    shutil.copytree(demo.exports, data_dir / "landing" / "canonical")
    serving = data_dir / "warehouse" / "sales.duckdb"
    serving.parent.mkdir(parents=True)
    shutil.copyfile(demo.warehouse, serving)  # yesterday's publish, from the same exports
    outcome: dict = {"data_dir": str(data_dir), "yesterday_sha256": sha256(serving), "steps": []}
    logs = data_dir.parent / f"{data_dir.name}-logs"
    logs.mkdir()
    stop = logs / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(serving), str(logs / "reader.jsonl"), str(stop), READER_QUERY]
    )
    try:
        for crash_at in CRASHES:
            log = logs / f"crash-{crash_at.replace(':', '-')}.log"
            started, polls = time.monotonic(), reader_polls(logs)
            proc = start_run(data_dir, log, {CRASH_AT_ENV: crash_at})
            returncode = proc.wait(timeout=RUN_TIMEOUT)
            outcome["steps"].append(
                {
                    "crash_at": crash_at,
                    "returncode": returncode,
                    "seconds": round(time.monotonic() - started, 1),
                    "reader_polls": [polls, reader_polls(logs)],
                    "orphaned_dbt": orphaned_dbt_after_kill(data_dir),
                    "output": log.read_text()[-3000:],
                    **state(data_dir),
                }
            )
        # Two plain runs started at once: the re-run after the last crash, and a second one.
        started, polls = time.monotonic(), reader_polls(logs)
        runs = [start_run(data_dir, logs / f"final-{i}.log") for i in (1, 2)]
        codes = [p.wait(timeout=RUN_TIMEOUT) for p in runs]
        outcome["final"] = {
            "returncodes": codes,
            "pids": [p.pid for p in runs],
            "seconds": round(time.monotonic() - started, 1),
            "reader_polls": [polls, reader_polls(logs)],
            "outputs": [(logs / f"final-{i}.log").read_text()[-6000:] for i in (1, 2)],
            "marts": mart_rows(serving),
            **state(data_dir),
        }
    finally:
        stop.touch()
        reader.wait(timeout=60)
    outcome["reader"] = [json.loads(line) for line in (logs / "reader.jsonl").read_text().splitlines()]
    outcome["baseline"] = {"marts": mart_rows(demo.warehouse), **state(demo.data_dir)}
    return outcome


def scenario(tmp_path_factory, demo: DemoRun) -> dict:
    """The scenario's outcome, computed once per test session (shared by xdist workers)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this session's folder, shared by its workers (never an older session's)
    done = root / "reliability_scenario.json"
    with open(root / "reliability_scenario.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            data_dir = root / "reliability-data"
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(root / "reliability-data-logs", ignore_errors=True)
            done.write_text(json.dumps(run_scenario(data_dir, demo)))
    return json.loads(done.read_text())
