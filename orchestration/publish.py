"""Write-audit-publish: the only code that replaces the serving warehouse.

A new DuckDB file is written beside the serving file with what a reader may see, as tables: the
marts of the build warehouse and the quality tables as of this publish (all but the quarantine:
rejected rows as landed, with personal data, stay in the raw zone for the people who fix exports).
No view, no raw, staging or intermediate schema: nothing in it reaches the raw zone or a personal
column. The new file is then renamed over the serving path.
rename() is atomic on POSIX: a reader that opened the old file keeps reading the old inode; a
reader that (re)connects sees the new one; nobody ever sees a half-written file. A refused publish
touches nothing.

The marts' copy, most of the write, does not wait for the audit: once dbt has succeeded, the dbt step
starts it in a background thread (`prepare`) while the checks run, into the same staged file, owner
only. The publish then takes it only if it is the same run's and the build file is the one it was
copied from, adds the quality tables as of the publish, and renames it as above; otherwise it writes
the whole file itself. Nothing of it is visible before the audit has passed, and a refused publish
deletes it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from common.faults import crash_point
from ingestion.file_modes import private_file, reader_file
from ingestion.raw_zone import expose_quality
from orchestration.quality import results_store
from orchestration.quality.suites import LAYERS
from orchestration.settings import Settings

PUBLISH_LOG = "publish_log.jsonl"
# Beside the build warehouse: the id of the run whose dbt step built it (stamp_build).
BUILD_STAMP = "build_run.json"
# quality.quarantine is not among them: it keeps rejected rows' original text (names, e-mails).
PUBLISHED_QUALITY_TABLES = ("ingestion_ledger", "check_results")

log = logging.getLogger(__name__)
_prepared: dict[str, Future] = {}  # run id -> the marts' copy it started, until its publish takes it
_guard = threading.Lock()


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


def _write_marts(settings: Settings, staged: Path) -> dict[str, int]:
    """Create the DuckDB file `staged` (owner only until the publish) holding every mart of the build
    as a table, and nothing else of the build (no raw or staging view reaching the raw zone, no
    intermediate model); returns the rows per mart."""
    with duckdb.connect(config=settings.duckdb_limits()) as con:
        con.execute(f"attach {_sql_str(settings.build_warehouse)} as build (read_only)")
        con.execute(
            f"attach {_sql_str(staged)} as serving (storage_version {_sql_str(settings.serving_storage_version)})"
        )
        private_file(staged)
        marts = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'build' and table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        con.execute("create schema serving.marts")
        for table in marts:
            con.execute(f"create table serving.marts.{_ident(table)} as select * from build.marts.{_ident(table)}")
        mart_rows = {t: con.execute(f"select count(*) from serving.marts.{_ident(t)}").fetchone()[0] for t in marts}
        con.execute("detach serving")  # checkpointed on detach: everything in the file, no WAL
    return mart_rows


def _write_quality(settings: Settings, staged: Path) -> None:
    """Add the published quality tables, as of now, to the staged file."""
    with duckdb.connect(config=settings.duckdb_limits()) as con:
        # the ledger and check-results views over their Parquet logs, in this in-memory catalog
        expose_quality(con, settings.quality_dir)
        results_store.expose(con, settings.quality_dir)
        con.execute(f"attach {_sql_str(staged)} as serving")
        con.execute("create schema serving.quality")
        for table in PUBLISHED_QUALITY_TABLES:
            con.execute(f"create table serving.quality.{table} as select * from memory.quality.{table}")
        con.execute("detach serving")


def _staged(settings: Settings) -> Path:
    serving = settings.serving_warehouse
    return serving.with_name(serving.name + ".tmp")


def _remove_staged(settings: Settings) -> None:
    """A publish killed midway leaves its staged copy, perhaps with a WAL that belongs to that copy."""
    staged = _staged(settings)
    for leftover in (staged, staged.with_name(staged.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _build_signature(settings: Settings) -> tuple[int, int]:
    stat = settings.build_warehouse.stat()
    return stat.st_size, stat.st_mtime_ns


def prepare(settings: Settings, run_id: str) -> None:
    """Copy the marts of the build run_id vouches for into the staged file, in a background thread
    (the write of write-audit-publish, while the checks audit the build); its publish takes it."""
    future: Future = Future()
    with _guard:
        earlier = _prepared.pop(run_id, None)
        _prepared[run_id] = future
    if earlier is not None:  # the step ran again in this process: its copy is of an older build
        _settle(earlier)
    threading.Thread(
        target=_prepare, args=(settings, future), daemon=True, name=f"salesdw-prepare-{run_id[:8]}"
    ).start()


def _prepare(settings: Settings, future: Future) -> None:
    try:
        _remove_staged(settings)
        signature = _build_signature(settings)
        future.set_result((signature, _write_marts(settings, _staged(settings))))
    except BaseException as exc:  # the publish writes the copy itself, and says why
        future.set_exception(exc)


def _settle(future: Future) -> tuple | None:
    """Wait for a copy in progress: its (build signature, rows per mart), or None if it failed."""
    try:
        return future.result()
    except Exception as exc:
        log.warning("the marts' copy prepared during the checks failed (%s); the publish writes it anew", exc)
        return None


def _take_prepared(settings: Settings, run_id: str) -> dict[str, int] | None:
    """The rows per mart of the staged copy run_id prepared, if the build is still the one it was
    copied from (stamped by run_id, same size and modification time); None otherwise."""
    with _guard:
        future = _prepared.pop(run_id, None)
    prepared = None if future is None else _settle(future)
    if prepared is None or built_by(settings) != run_id or _build_signature(settings) != prepared[0]:
        return None
    return prepared[1]


def discard_prepared(settings: Settings, run_id: str) -> None:
    """Delete run_id's staged copy if its publish did not take it (refused, or never reached)."""
    with _guard:
        future = _prepared.pop(run_id, None)
    if future is not None:
        _settle(future)
        _remove_staged(settings)


def _sql_str(value: Path | str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
        return (
            "the build warehouse carries no run id (not built by a salesdw run, or its dbt step "
            "failed or was interrupted): serving warehouse left untouched"
        )
    related = {run_id, *lineage}
    runs = related | {build_run} if build_run in related else {build_run}
    results = results_store.latest_of_runs(settings.quality_dir, runs)
    problems = [f"no result of the {layer} suite" for layer in LAYERS if layer not in {r.layer for r in results}]
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
        discard_prepared(settings, run_id)
        raise PublishRefused(refusal)

    serving, staged = settings.serving_warehouse, _staged(settings)
    mart_rows = _take_prepared(settings, run_id)
    if mart_rows is None:
        _remove_staged(settings)
        mart_rows = _write_marts(settings, staged)
    _write_quality(settings, staged)
    reader_file(staged)
    _fsync(staged)
    crash_point("publish")
    os.replace(staged, serving)
    _fsync(serving.parent)

    record = PublishRecord(
        run_id=run_id,
        published_at=datetime.now().isoformat(timespec="seconds"),
        warehouse=str(serving),
        bytes=serving.stat().st_size,
        mart_rows=mart_rows,
    )
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
