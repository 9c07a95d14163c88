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
from orchestration.quality.suites import LAYERS
from orchestration.settings import Settings

PUBLISH_LOG = "publish_log.jsonl"
# Beside the build warehouse: the id of the run whose dbt step built it (stamp_build).
BUILD_STAMP = "build_run.json"
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


def stamp_build(settings: Settings, run_id: str | None) -> None:
    """Record which run built the build warehouse (None: it is being rebuilt, no run vouches for
    it). The dbt step clears the stamp before dbt starts and writes it once dbt has succeeded, so a
    half-built or failed build never carries the id of a run whose audits passed."""
    path = settings.warehouse_dir / BUILD_STAMP
    if run_id is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "built_at": datetime.now().isoformat(timespec="seconds")}))
    os.replace(tmp, path)


def built_by(settings: Settings) -> str | None:
    """The id of the run that built the build warehouse, or None (no stamp, or unreadable)."""
    try:
        return json.loads((settings.warehouse_dir / BUILD_STAMP).read_text())["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def audit_refusal(settings: Settings, run_id: str, lineage: Iterable[str] = ()) -> str | None:
    """Why the build may not be published, or None. The build's own audits decide, whichever run
    publishes: every suite (raw, staging, marts) must have stored results for the run that built
    it and no blocking check may have failed. lineage: the runs the publishing run re-executes
    (parent, root); when the build is theirs, a suite re-run in this run counts for it too."""
    build_run = built_by(settings)
    if build_run is None:
        return ("the build warehouse carries no run id (not built by a salesdw run, or its dbt step "
                "failed or was interrupted): serving warehouse left untouched")
    related = {run_id, *lineage}
    runs = related | {build_run} if build_run in related else {build_run}
    results = results_store.latest_of_runs(settings.quality_dir, runs)
    problems = [f"no result of the {layer} suite" for layer in LAYERS
                if layer not in {r.layer for r in results}]
    failures = [f"{r.asset}:{r.check_name}" for r in results if r.blocking]
    if failures:
        problems.insert(0, f"blocking checks failed: {', '.join(failures)}")
    if not problems:
        return None
    verdict = "audit failed" if failures else "audit incomplete"
    return f"{verdict} for the build of run {build_run}, serving warehouse left untouched; {'; '.join(problems)}"


def publish(settings: Settings, run_id: str, lineage: Iterable[str] = ()) -> PublishRecord:
    """Publish the build warehouse, unless its audit (audit_refusal) forbids it. A suite that
    crashed or was skipped reports nothing, and nothing is not a pass."""
    refusal = audit_refusal(settings, run_id, lineage)
    if refusal:
        raise PublishRefused(refusal)

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
