"""Dagster's run history storage, as configured vs. Dagster's default: replay the events of the latest
run of a data dir into a fresh copy of each and time it.

    .venv/bin/python bench/bench_run_history.py [DATA_DIR]    # default ./data (after `make run`)

The configured storage skips fsync as in a CLI run (PooledSqliteEventLogStorage.skip_fsync, asked by
orchestration/runner.py); Dagster's default waits for the disk on every commit, as it does.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main(data_dir: Path) -> None:
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster")
    import dagster as dg
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from orchestration.run_history import PooledSqliteEventLogStorage

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            raise SystemExit(f"no run in {data_dir / 'dagster'}: run `salesdw run` first")
        events = instance.all_logs(runs[0].run_id)
    scratch = Path(tempfile.mkdtemp(prefix="run-history-"))
    print(f"{len(events):,} events of run {runs[0].run_id}")
    for storage_class in (SqliteEventLogStorage, PooledSqliteEventLogStorage) * 2:
        storage = storage_class(str(Path(tempfile.mkdtemp(dir=scratch))))
        if isinstance(storage, PooledSqliteEventLogStorage):
            storage.skip_fsync()
        started = time.perf_counter()
        for event in events:
            storage.store_event(event)
        print(f"{storage_class.__name__:<30} {time.perf_counter() - started:6.2f} s")
        storage.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data").resolve())
