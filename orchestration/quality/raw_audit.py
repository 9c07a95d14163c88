"""The raw-layer audit, run in the background while dbt builds.

dbt builds in its own process; the run's process only waits for it. The raw suite does not need
the build: it validates the raw zone (the Parquet batches and the ingestion ledger), which the
build does not change. So the dbt step starts it here, in a thread, and the raw checks step that
follows the build (step order: orchestration/policies.py) takes its results, or its error.

It cannot read the build warehouse, which dbt holds for writing (a DuckDB file has one writer and
no readers beside it across processes): it reads its own DuckDB file under the data dir's temp
folder, with the same `raw.*` and `quality.*` views over the same files (ingestion.raw_zone.expose),
deleted afterwards. It stays small beside the build: one DuckDB thread, a quarter of the
configured memory limit (it spills beyond that, like every other step).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import Future
from datetime import date
from pathlib import Path

import duckdb

from orchestration.quality.check_result import CheckResult
from orchestration.settings import Settings

log = logging.getLogger(__name__)

STALE_AFTER_SECONDS = 24 * 3600
_started: dict[str, Future] = {}  # run id -> the audit of that run, until its checks step takes it
_guard = threading.Lock()


def start(settings: Settings, run_id: str) -> Future:
    """Start the raw suite of run_id in a background thread (once per run)."""
    from orchestration.quality.gx_startup import settle_environment

    settle_environment()
    with _guard:
        if run_id not in _started:
            future: Future = Future()
            _started[run_id] = future
            threading.Thread(
                target=_audit, args=(settings, run_id, future), daemon=True, name=f"salesdw-raw-audit-{run_id[:8]}"
            ).start()
        return _started[run_id]


def take(run_id: str) -> list[CheckResult] | None:
    """The results of run_id's background audit, waiting for it to finish; its error if it failed
    (raised here, in the checks step); None when none was started for this run."""
    with _guard:
        future = _started.pop(run_id, None)
    return None if future is None else future.result()


def audit_file(settings: Settings, run_id: str) -> Path:
    return settings.temp_dir / f"raw_audit_{run_id}.duckdb"


def limits(settings: Settings) -> dict:
    """The engine settings of the background audit: one thread, a quarter of the memory limit as
    DuckDB reads the configured value ('1GB', '500M', '2GiB', '80%'), at least 64 MiB."""
    with duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit}) as con:
        shown = con.execute("select current_setting('memory_limit')").fetchone()[0]  # '953.6 MiB'
    number, unit = shown.split()
    quarter = max(64, int(float(number) * _MIB[unit] / 4))
    return {**settings.duckdb_limits(), "threads": 1, "memory_limit": f"{quarter}MiB"}


_MIB = {"bytes": 1 / 2**20, "KiB": 1 / 2**10, "MiB": 1, "GiB": 2**10, "TiB": 2**20, "PiB": 2**30}


def _audit(settings: Settings, run_id: str, future: Future) -> None:
    from ingestion.raw_zone import expose_file
    from orchestration.quality.runner import run_suite

    path = audit_file(settings, run_id)
    try:
        _remove(path)
        _remove_stale(settings.temp_dir)
        expose_file(path, settings.raw_dir, settings.quality_dir)
        _store_ledger(path)
        serving = settings.serving_warehouse
        results = run_suite(
            "raw",
            path,
            run_id=run_id,
            quality_dir=settings.quality_dir,
            as_of_date=date.fromisoformat(settings.as_of_date) if settings.as_of_date else None,
            previous_warehouse=serving if serving.exists() else None,
            duckdb_limits=limits(settings),
        )
    except BaseException as exc:  # handed to the checks step, which fails with it
        log.debug("background raw audit failed", exc_info=True)
        _remove(path)
        future.set_exception(exc)
        return
    _remove(path)  # before the results are handed over: nothing of the audit outlives it
    future.set_result(results)


def _store_ledger(path: Path) -> None:
    """The ledger as a table of the audit file: a view reads every batch's ledger Parquet file again
    in each of the raw checks that reads it (one small file per landed file), a table once."""
    with duckdb.connect(str(path)) as con:
        con.execute("create table quality.ledger_stored as select * from quality.ingestion_ledger")
        con.execute("create or replace view quality.ingestion_ledger as select * from quality.ledger_stored")


def _remove_stale(folder: Path) -> None:
    """Audit files of killed runs (a finished audit removes its own). Only those older than a
    day: another run's audit may still be reading its file (a run holds the run lock for its
    writing steps only)."""
    cutoff = time.time() - STALE_AFTER_SECONDS
    for stale in folder.glob("raw_audit_*.duckdb*"):
        with contextlib.suppress(FileNotFoundError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
