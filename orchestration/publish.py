"""Write-audit-publish: the only code that replaces the serving warehouse.

The build warehouse is copied beside the serving file, the quality tables are frozen into the
copy as of this publish (all but the quarantine: rejected rows as landed, with personal data, stay
in the raw zone for the people who fix exports), and the copy is renamed over the serving path.
rename() is atomic on POSIX: a reader that opened the old file keeps reading the old inode; a
reader that (re)connects sees the new one; nobody ever sees a half-written file. A refused publish
touches nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ingestion.raw_zone import expose
from orchestration.faults import crash_point
from orchestration.quality import results_store
from orchestration.settings import Settings

PUBLISH_LOG = "publish_log.jsonl"
# quality.quarantine is not among them: it keeps rejected rows' original text (names, e-mails).
PUBLISHED_QUALITY_TABLES = ("ingestion_ledger", "check_results")


class PublishRefused(RuntimeError):
    pass


@dataclass
class PublishRecord:
    run_id: str
    published_at: str
    warehouse: str
    bytes: int
    mart_rows: dict[str, int]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _freeze_view(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """Replace a view over the live Parquet logs by a table holding its rows as of now."""
    con.execute(f"create or replace table {schema}.{name}__frozen as select * from {schema}.{name}")
    con.execute(f"drop view {schema}.{name}")
    con.execute(f"alter table {schema}.{name}__frozen rename to {name}")


def publish(settings: Settings, run_id: str, audited_layers: Iterable[str] = ()) -> PublishRecord:
    """Publish the build of run_id, unless a blocking check of the run failed or one of
    audited_layers (the suites planned in the run) has not reported: the step order puts every
    suite before the publish, but a suite that crashed or was skipped reports nothing, and
    nothing is not a pass."""
    results = results_store.latest(settings.quality_dir, run_id)
    reported = {r.layer for r in results}
    missing = [layer for layer in audited_layers if layer not in reported]
    if missing:
        raise PublishRefused(f"audit incomplete, serving warehouse left untouched: no result of the "
                             f"{', '.join(missing)} suite in run {run_id}")
    failures = [r for r in results if r.blocking]
    if failures:
        names = ", ".join(f"{f.asset}:{f.check_name}" for f in failures)
        raise PublishRefused(f"audit failed, serving warehouse left untouched; blocking checks failed: {names}")

    build, serving = settings.build_warehouse, settings.serving_warehouse
    staged = serving.with_name(serving.name + ".tmp")
    with duckdb.connect(str(build)) as con:
        con.execute("checkpoint")  # everything in the main file, nothing left in the WAL
    # A publish killed midway leaves its staged copy, perhaps with a WAL that belongs to that copy.
    for leftover in (staged, staged.with_name(staged.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(build, staged)
    with duckdb.connect(str(staged)) as con:
        expose(con, settings.raw_dir, settings.quality_dir)
        results_store.expose(con, settings.quality_dir)
        for name in PUBLISHED_QUALITY_TABLES:
            _freeze_view(con, "quality", name)
        con.execute("drop view quality.quarantine")  # never reaches the readers of the serving file
        mart_rows = {
            table: con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for (table,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        }
        con.execute("checkpoint")
    _fsync(staged)
    crash_point("publish")
    os.replace(staged, serving)
    _fsync(serving.parent)

    record = PublishRecord(run_id=run_id, published_at=datetime.now().isoformat(timespec="seconds"),
                           warehouse=str(serving), bytes=serving.stat().st_size, mart_rows=mart_rows)
    with open(settings.warehouse_dir / PUBLISH_LOG, "a") as log:
        log.write(json.dumps(asdict(record)) + "\n")
    return record


def last_publish(settings: Settings) -> PublishRecord | None:
    log = settings.warehouse_dir / PUBLISH_LOG
    if not log.exists():
        return None
    for line in reversed(log.read_text().splitlines()):
        try:
            return PublishRecord(**json.loads(line))
        except (ValueError, TypeError):
            continue  # blank, or the torn last line of a process killed while appending
    return None
