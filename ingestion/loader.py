"""Ingest a landing folder through a source profile into the typed raw zone, ledger and quarantine.

For every (file, entity) pair the profile matches:
- a file whose content was already loaded for the same profile and entity is skipped: recorded
  once as `duplicate_file` when it is a new copy, silently when it is the very file (same path
  and content) already recorded, so re-running an unchanged folder adds nothing;
- a file that cannot be read as declared, or lacks a column the profile needs, is `rejected`
  (a one-line reason naming the file and the cause; nothing from it loads);
- otherwise every selected row either loads into `<raw_dir>/<entity>/<batch_id>.parquet` or is
  quarantined with its original text and reason, and the ledger row commits the batch.
rows_read = rows_loaded + rows_quarantined for every file. Files in the landing folder are only
ever read. One writer at a time: the orchestration layer serialises ingest runs.
"""

from __future__ import annotations

import heapq
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import duckdb

from common.faults import crash_point
from ingestion.canonical import ENTITIES, FUTURE_DATE_HORIZON_DAYS, LINEAGE_COLUMNS
from ingestion.columns import extended_source
from ingestion.hashing import file_sha256, known_sha256, private_copy
from ingestion.ignored import IgnoredFile, ignored_files
from ingestion.ledger import (
    cleanup_orphans,
    copy_to_parquet,
    quarantine_dir,
    read_ledger,
    write_ledger_row,
)
from ingestion.limits import LimitExceeded, ReadLimits, check_file
from ingestion.mapping import RAW_RECORD, REASON, Horizon, MappingError, build_query, column_snapshot_date
from ingestion.profile import (
    NO_EXTENSION_DOWNLOADS,
    Profile,
    SnapshotDateError,
    SourceSpec,
    load_profile,
    quote_ident,
    quote_literal,
)
from ingestion.raw_zone import QUARANTINE_COLUMNS
from ingestion.readers import ROW_NUMBER, ReadError, fields_beyond, needs_serial_read, one_line, open_source

LOADED, DUPLICATE, REJECTED = "loaded", "duplicate_file", "rejected"
_BATCH_TIME = "%Y%m%dT%H%M%S%f"
_BATCH_ID = re.compile(r"^(\d{8}T\d{12})-")
_WORK_PREFIX = "ingest-"
_GLOB_CHARACTERS = re.compile(r"[*?\[\]{}]")  # what DuckDB's readers expand in a path
_CHANGED = "the file changed while it was being read (still being written?); it is read again on the next run"


@dataclass(frozen=True)
class FileOutcome:
    batch_id: str
    profile: str
    entity: str
    file_path: str  # relative to the landing folder
    status: str  # loaded | duplicate_file | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    snapshot_date: date | None = None  # of a loaded file: declared by the profile, else the day it landed
    notes: dict = field(default_factory=dict)  # ledger columns on what was read: missing_columns, lookup_files


@dataclass
class EntitySummary:
    files_loaded: int = 0
    files_rejected: int = 0
    files_duplicate: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, error)


@dataclass
class IngestResult:
    profile: str
    files: list[FileOutcome] = field(default_factory=list)
    orphans_removed: list[Path] = field(default_factory=list)
    ignored: list[IgnoredFile] = field(default_factory=list)  # files under the folder no source reads

    def by_entity(self) -> dict[str, EntitySummary]:
        summary: dict[str, EntitySummary] = {}
        for f in self.files:
            s = summary.setdefault(f.entity, EntitySummary())
            if f.status == LOADED:
                s.files_loaded += 1
            elif f.status == DUPLICATE:
                s.files_duplicate += 1
            else:
                s.files_rejected += 1
                s.rejected.append((f.file_path, f.error or ""))
            s.rows_loaded += f.rows_loaded
            s.rows_quarantined += f.rows_quarantined
        return summary

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class _BatchClock:
    """Batch timestamps: UTC, strictly increasing within a run and after every earlier batch."""

    def __init__(self, previous_batch_ids: Collection[str]):
        stamps = [datetime.strptime(m.group(1), _BATCH_TIME) for b in previous_batch_ids if (m := _BATCH_ID.match(b))]
        self.last = max(stamps, default=datetime.min)

    def next(self) -> datetime:
        self.last = max(_utcnow(), self.last + timedelta(microseconds=1))
        return self.last


def _batch_id(at: datetime, sha256: str, entity: str) -> str:
    return f"{at.strftime(_BATCH_TIME)}-{sha256[:8]}-{entity}"


def _matched_files(landing_dir: Path, profile: Profile, entities) -> list[tuple[SourceSpec, Path]]:
    pairs, seen = [], set()
    for spec in profile.sources_for(entities):
        for path in spec.match(landing_dir):
            if (spec.entity, path) not in seen:  # two sources of one entity matching one file: once
                seen.add((spec.entity, path))
                pairs.append((spec, path))
    return pairs


def pending_files(landing_dir: Path, profile: Profile | str, quality_dir: Path) -> list[Path]:
    """Files the profile would read whose content is not yet in the ledger for that profile."""
    profile = load_profile(profile)
    ledger = read_ledger(quality_dir)
    known = set(ledger.loc[(ledger["profile"] == profile.name) & ledger["retired_at"].isna(), "file_sha256"])
    paths = sorted({path for _, path in _matched_files(Path(landing_dir), profile, None)})
    return [p for p in paths if known_sha256(p) not in known]


def ingest(
    landing_dir: Path,
    profile: Profile | str,
    raw_dir: Path,
    quality_dir: Path,
    *,
    reporting_currency: str = "CNY",
    entities: Collection[str] | None = None,
    tmp_dir: Path | None = None,
    duckdb_config: Mapping[str, str | int] | None = None,
    progress: Callable[[FileOutcome], None] | None = None,
    parallel_files: int = 2,
    future_date_horizon_days: int = FUTURE_DATE_HORIZON_DAYS,
    read_limits: ReadLimits | None = None,
) -> IngestResult:
    """Load every new file the profile matches under landing_dir (the profile's landing folder,
    e.g. <data>/landing/<profile>); see the module docstring for what each file gets.
    duckdb_config: DuckDB settings such as memory_limit and threads (Settings.duckdb_limits); without
    a memory_limit DuckDB takes up to 80% of the machine's memory on a large file. It spills into
    the ingest's own work folder under tmp_dir, whatever temp_directory says.
    parallel_files: files loaded at a time, on one engine (its memory limit and threads shared).
    A CSV's row numbering and the Parquet writer run partly on one thread, so a second file keeps
    the other core busy (the scale-50 exports: 8.4 s -> 5.7 s). Ledger rows commit in file order;
    a copy of an earlier file of the same run commits after the others.
    future_date_horizon_days: a date more than this many days after the day a file is ingested is
    quarantined (Settings.future_date_horizon_days; canonical columns with `future_ok` are exempt).
    read_limits: caps on what one file may make a reader hold (Settings.read_limits; ingestion/limits.py),
    checked on the landed file before it is hashed, and again as it is read."""
    profile = load_profile(profile)
    if entities is not None and (unknown := set(entities) - set(ENTITIES)):
        raise ValueError(f"unknown entities: {', '.join(sorted(unknown))}")
    options = _Options(reporting_currency, future_date_horizon_days, read_limits or ReadLimits(), progress)
    run = _Run(profile, Path(landing_dir).resolve(), Path(raw_dir), Path(quality_dir), options)
    run.open(Path(tmp_dir) if tmp_dir is not None else Path(raw_dir).parent / "tmp", duckdb_config)
    try:
        run.execute(entities, parallel_files)
    finally:
        run.close()
    return run.result


@dataclass(frozen=True)
class _Options:
    """What every file of a run is loaded with (ingest's keyword arguments)."""

    reporting_currency: str
    future_date_horizon_days: int
    read_limits: ReadLimits
    progress: Callable[[FileOutcome], None] | None


@dataclass
class _Attempt:
    """A file this run handles: decided up front (outcome) or loading (future), or waiting."""

    spec: SourceSpec
    path: Path
    rel: str
    sha: str | None
    batch_id: str
    batch_at: datetime
    ledger_row: dict
    outcome: FileOutcome | None = None
    future: Future | None = None


class _Run:
    """One ingest run: what the ledger says is loaded, the batch clock, and the engine and work
    folder its files share. Plan in file order (batch ids and times follow it), load up to
    `parallel_files` files at a time, largest first, commit each file's ledger row in file order. A file with the
    same content as an earlier one of this run waits until the others are committed: a duplicate
    if that one loaded, else loaded itself."""

    def __init__(self, profile: Profile, landing_dir: Path, raw_dir: Path, quality_dir: Path, options: _Options):
        self.profile, self.landing_dir, self.raw_dir, self.quality_dir = profile, landing_dir, raw_dir, quality_dir
        self.options = options
        self.result = IngestResult(profile=profile.name)
        self.result.orphans_removed = cleanup_orphans(raw_dir, quality_dir)
        # every entity's sources, selected or not: a file another run reads is not ignored
        matched = {p for _, p in _matched_files(landing_dir, profile, None)}
        self.result.ignored = ignored_files(landing_dir, profile, matched)
        ledger = read_ledger(quality_dir)
        # a retired batch's content counts as never loaded: landed again, it loads again (ingestion/retire.py)
        mine = ledger[(ledger["profile"] == profile.name) & ledger["retired_at"].isna()]
        self.loaded_hashes = {(r.entity, r.file_sha256) for r in mine.itertuples() if r.status == LOADED}
        self.recorded = {
            (r.entity, r.file_path, r.file_sha256) for r in mine.itertuples() if r.status in (LOADED, DUPLICATE)
        }
        self.clock = _BatchClock(ledger["batch_id"].tolist())
        self.hashes: dict[Path, tuple[str | None, str | None]] = {}  # sha256, read error
        self.signatures: dict[Path, tuple[int, int]] = {}
        self.queued: list[tuple[float, int, _Attempt]] = []  # a heap: the largest file first
        self.queue_lock = threading.Lock()

    def open(self, tmp_root: Path, duckdb_config: Mapping[str, str | int] | None) -> None:
        tmp_root.mkdir(parents=True, exist_ok=True)
        # Work folders of killed ingests (one writer at a time: any left now is a crashed run's).
        for stale in tmp_root.glob(f"{_WORK_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
            self.result.orphans_removed.append(stale)
        self.work_dir = Path(tempfile.mkdtemp(prefix=_WORK_PREFIX, dir=tmp_root))
        self.con = duckdb.connect(
            config={
                **(duckdb_config or {}),
                "temp_directory": str(self.work_dir / "duckdb"),
                "preserve_insertion_order": True,
                **NO_EXTENSION_DOWNLOADS,
            }
        )
        self.con.execute("set enable_progress_bar = false")

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def execute(self, entities: Collection[str] | None, parallel_files: int) -> None:
        pool = ThreadPoolExecutor(max_workers=max(1, parallel_files), thread_name_prefix="ingest")
        try:
            attempts = self._plan(entities, pool)
            waiting = [a for a in attempts if not self._commit_planned(a)]
            for attempt in waiting:  # same content as an earlier file of this run, now committed
                if (attempt.spec.entity, attempt.sha) in self.loaded_hashes:
                    self._commit(attempt, self._outcome(attempt, DUPLICATE), _utcnow())
                else:
                    self._commit(attempt, *self._load(attempt))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _plan(self, entities: Collection[str] | None, pool: ThreadPoolExecutor) -> list[_Attempt]:
        """Every matched file not handled by an earlier run, in file order; the first file of each
        content not yet loaded is submitted to the pool."""
        attempts, first_of_content = [], set()
        for spec, path in _matched_files(self.landing_dir, self.profile, entities):
            attempt = self._attempt(spec, path)
            if attempt is None:
                continue  # this very file was handled by an earlier run
            if attempt.outcome is None and (spec.entity, attempt.sha) not in first_of_content:
                first_of_content.add((spec.entity, attempt.sha))
                attempt.future = Future()
                with self.queue_lock:
                    heapq.heappush(self.queued, (-self._work(attempt), len(attempts), attempt))
                pool.submit(self._load_largest)
            attempts.append(attempt)
        return attempts

    def _work(self, attempt: _Attempt) -> float:
        """How long a file takes to load, roughly: its size; a workbook is zipped XML read in Python,
        about ten times slower per byte than delimited text."""
        size = self.signatures[attempt.path][0]
        return size * 10 if attempt.spec.file_format(attempt.path) == "xlsx" else size

    def _load_largest(self) -> None:
        """Load the largest queued file (one pool task per queued file). The largest files go first
        so that the last ones to finish are small: a file's stage query runs on one thread (its row
        numbering), and a large file left for the end would keep the other core idle."""
        with self.queue_lock:
            *_, attempt = heapq.heappop(self.queued)
        try:
            attempt.future.set_result(self._load(attempt))
        except BaseException as exc:  # as the pool's own work items do: the commit raises it
            attempt.future.set_exception(exc)

    def _attempt(self, spec: SourceSpec, path: Path) -> _Attempt | None:
        """The file as this run sees it: None if this very file was handled by an earlier run;
        decided up front if it is refused or its content is already loaded."""
        rel = path.relative_to(self.landing_dir).as_posix()
        sha, refused = self._inspect(spec, path)
        if (spec.entity, rel, sha) in self.recorded:
            return None
        batch_at = self.clock.next()
        batch_id = _batch_id(batch_at, sha or "0" * 8, spec.entity)
        size = self.signatures[path][0] if path in self.signatures else None
        attempt = _Attempt(
            spec,
            path,
            rel,
            sha,
            batch_id,
            batch_at,
            dict(
                batch_id=batch_id,
                profile=self.profile.name,
                entity=spec.entity,
                file_path=rel,
                file_sha256=sha,
                file_bytes=size,
                started_at=_utcnow(),
            ),
        )
        if refused:
            attempt.outcome = self._outcome(attempt, REJECTED, error=f"{rel}: {refused}")
        elif (spec.entity, sha) in self.loaded_hashes:
            attempt.outcome = self._outcome(attempt, DUPLICATE)
        return attempt

    def _inspect(self, spec: SourceSpec, path: Path) -> tuple[str | None, str | None]:
        """(sha256, None), or (None, why the file is refused). The read limits are checked on the
        landed file before it is hashed, so a 2 GB file without a line break is refused at once
        instead of after reading it; the reader checks them again (the landed file may change
        meanwhile). A file that cannot be read (e.g. no permission) is
        refused and the others go on."""
        try:
            if path not in self.signatures:  # size and mtime before hashing: _load_from compares them
                self.signatures[path] = _signature(path)
            check_file(path, spec.file_format(path), self.options.read_limits)
        except LimitExceeded as exc:
            return None, str(exc)
        except OSError as exc:
            return None, f"cannot read file: {exc.strerror or exc}"
        return self._hash(path)

    def _hash(self, path: Path) -> tuple[str | None, str | None]:
        if path not in self.hashes:  # once per run, however many sources match the file
            try:
                self.hashes[path] = (file_sha256(path), None)
            except OSError as exc:
                self.hashes[path] = (None, f"cannot read file: {exc.strerror or exc}")
        return self.hashes[path]

    def _outcome(self, attempt: _Attempt, status: str, error: str | None = None) -> FileOutcome:
        return FileOutcome(attempt.batch_id, self.profile.name, attempt.spec.entity, attempt.rel, status, error=error)

    def _commit_planned(self, attempt: _Attempt) -> bool:
        """Commit an attempt decided up front or loaded by the pool; False if it waits."""
        if attempt.outcome is not None:
            self._commit(attempt, attempt.outcome, attempt.ledger_row["started_at"])
        elif attempt.future is not None:
            self._commit(attempt, *attempt.future.result())
        else:
            return False
        return True

    def _load(self, attempt: _Attempt) -> tuple[FileOutcome, datetime]:
        """One file on its own cursor (its own temp tables) of the shared engine and memory limit."""
        cursor = self.con.cursor()
        try:
            cursor.execute("set enable_progress_bar = false")
            started = _utcnow()
            horizon = Horizon(attempt.batch_at.date(), self.options.future_date_horizon_days)
            return _load_file(
                cursor,
                attempt.spec,
                attempt.path,
                attempt.rel,
                self.profile.name,
                attempt.batch_id,
                attempt.batch_at,
                self.raw_dir,
                self.quality_dir,
                self.options.reporting_currency,
                self.work_dir,
                self.signatures[attempt.path],
                horizon,
                attempt.sha,
                self.options.read_limits,
            ), started
        finally:
            cursor.close()

    def _commit(self, attempt: _Attempt, outcome: FileOutcome, started: datetime) -> None:
        write_ledger_row(
            self.con,
            self.quality_dir,
            {
                **attempt.ledger_row,
                "started_at": started,
                "status": outcome.status,
                "rows_read": outcome.rows_read,
                "rows_loaded": outcome.rows_loaded,
                "rows_quarantined": outcome.rows_quarantined,
                "error": outcome.error,
                "finished_at": _utcnow(),
                "snapshot_date": outcome.snapshot_date,
                **outcome.notes,
            },
        )
        if outcome.status == LOADED:
            self.loaded_hashes.add((attempt.spec.entity, attempt.sha))
        if outcome.status in (LOADED, DUPLICATE):
            self.recorded.add((attempt.spec.entity, attempt.rel, attempt.sha))
        self.result.files.append(outcome)
        if self.options.progress is not None:
            self.options.progress(outcome)


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _changed_since(path: Path, signature: tuple[int, int]) -> bool:
    try:
        return _signature(path) != signature
    except OSError:  # deleted or moved away meanwhile
        return True


def _load_file(
    con,
    spec: SourceSpec,
    path: Path,
    rel: str,
    profile_name: str,
    batch_id: str,
    batch_at: datetime,
    raw_dir: Path,
    quality_dir: Path,
    currency: str,
    work_dir: Path,
    signature: tuple[int, int],
    horizon: Horizon,
    sha: str | None = None,
    limits: ReadLimits = ReadLimits(),
) -> FileOutcome:
    fmt = spec.file_format(path)
    if fmt is None:
        return FileOutcome(
            batch_id,
            profile_name,
            spec.entity,
            rel,
            REJECTED,
            error=(f"{rel}: unsupported file type (expected csv, csv.gz, tsv, xlsx, json, jsonl or parquet)"),
        )
    load = partial(
        _load_from,
        con,
        spec,
        path,
        fmt=fmt,
        rel=rel,
        profile_name=profile_name,
        batch_id=batch_id,
        batch_at=batch_at,
        raw_dir=raw_dir,
        quality_dir=quality_dir,
        currency=currency,
        work_dir=work_dir,
        signature=signature,
        horizon=horizon,
        sha=sha,
        limits=limits,
    )
    if not _GLOB_CHARACTERS.search(str(path)):
        return load(path)
    # DuckDB's readers take such a name as a pattern (`t[1].csv` would read `t1.csv`): read a
    # private copy under a plain name, hashed as it is made (see private_copy).
    copy = work_dir / "files" / f"{batch_id}{''.join(path.suffixes[-2:])}"
    try:
        return load(copy)
    finally:
        copy.unlink(missing_ok=True)


def _load_from(
    con,
    spec: SourceSpec,
    path: Path,
    source: Path,
    *,
    fmt: str,
    rel: str,
    profile_name: str,
    batch_id: str,
    batch_at: datetime,
    raw_dir: Path,
    quality_dir: Path,
    currency: str,
    work_dir: Path,
    signature: tuple[int, int],
    horizon: Horizon,
    sha: str | None,
    limits: ReadLimits,
) -> FileOutcome:
    """Load the landed file `path`, read from `source`: the file itself, or a private copy of it.
    Read in place, the file is checked again afterwards (size, mtime and SHA-256 as planned), so
    what loaded is what the ledger records; a copy is checked as it is made."""
    ent = ENTITIES[spec.entity]
    rejected = partial(_rejected, spec, rel, profile_name, batch_id)
    try:
        if source == path:
            path.stat()  # still there (its content is compared after the read)
            read_sha = sha
        else:
            read_sha = private_copy(path, source)
    except FileNotFoundError:
        return rejected(
            "the file was deleted or moved away before it was read; it is read on the next run if it is landed again"
        )
    except OSError as exc:
        return rejected(f"cannot read file: {exc.strerror or exc}")
    if (sha is not None and read_sha != sha) or _changed_since(path, signature):
        # Still being written (a copy in progress), or replaced since it was hashed: what was read
        # is not the content planned. Nothing is committed; the finished file loads next run.
        return rejected(_CHANGED)
    staged = f"staged_{batch_id.replace('-', '_')}"
    try:
        snapshot_date = _name_snapshot_date(spec, path) or batch_at.date()
        declared, notes = _stage(
            con, spec, ent, source, fmt, currency, work_dir, staged, horizon, limits, path.parents[rel.count("/")]
        )
        snapshot_date = declared or snapshot_date
    except (ReadError, MappingError, SnapshotDateError) as exc:
        return rejected(str(exc))
    except duckdb.Error as exc:
        return rejected(one_line(exc, max_line_bytes=limits.max_line_bytes))
    if _changed_since(path, signature) or (source == path and not _same_content(path, sha)):
        # Changed while it was read: the landed file is not done (a copy is consistent, a file read
        # in place may not be). Nothing is committed.
        con.execute(f"drop table if exists {staged}")
        return rejected(_CHANGED)
    rows = _write_batch(con, spec, staged, rel, profile_name, batch_id, batch_at, snapshot_date, raw_dir, quality_dir)
    return FileOutcome(
        batch_id, profile_name, spec.entity, rel, LOADED, *rows, snapshot_date=snapshot_date, notes=notes
    )


def _same_content(path: Path, sha: str | None) -> bool:
    """The file still hashes as planned (a swap keeping its size and mtime shows only here)."""
    try:
        return sha is None or file_sha256(path) == sha
    except OSError:
        return False


def _rejected(spec: SourceSpec, rel: str, profile_name: str, batch_id: str, reason: str) -> FileOutcome:
    return FileOutcome(batch_id, profile_name, spec.entity, rel, REJECTED, error=f"{rel}: {reason}")


def _write_batch(
    con,
    spec: SourceSpec,
    staged: str,
    rel: str,
    profile_name: str,
    batch_id: str,
    batch_at: datetime,
    snapshot_date: date,
    raw_dir: Path,
    quality_dir: Path,
) -> tuple[int, int, int]:
    """Write the staged rows' data batch and quarantine (the ledger row, written by the caller,
    commits them) and drop the staged table: (rows read, loaded, quarantined)."""
    try:
        (rows_read,) = con.execute(f"select count(*) from {staged}").fetchone()
        loaded_at = quote_literal(batch_at.isoformat(sep=" "))
        lineage_values = {
            "_batch_id": quote_literal(batch_id),
            "_profile": quote_literal(profile_name),
            "_source_file": quote_literal(rel),
            "_row_number": ROW_NUMBER,
            "_loaded_at": loaded_at,
            "_snapshot_date": f"date {quote_literal(snapshot_date.isoformat())}",
        }
        lineage = ", ".join(f"cast({lineage_values[c]} as {t}) as {c}" for c, t in LINEAGE_COLUMNS.items())
        typed = ", ".join(
            f"cast({quote_ident(c.name)} as {c.type}) as {quote_ident(c.name)}" for c in ENTITIES[spec.entity].columns
        )
        rows_loaded = copy_to_parquet(
            con,
            f"select {typed}, {lineage} from {staged} where {REASON} is null",
            raw_dir / spec.entity / f"{batch_id}.parquet",
        )
        crash_point("ingest")
        rows_quarantined = _write_quarantine(con, spec, staged, rel, profile_name, batch_id, loaded_at, quality_dir)
    finally:
        con.execute(f"drop table if exists {staged}")
    if rows_loaded + rows_quarantined != rows_read:  # cannot happen; never commit if it does
        raise RuntimeError(f"{rel}: {rows_read} rows read but {rows_loaded} loaded + {rows_quarantined} quarantined")
    return rows_read, rows_loaded, rows_quarantined


def _write_quarantine(
    con, spec: SourceSpec, staged: str, rel: str, profile_name: str, batch_id: str, loaded_at: str, quality_dir: Path
) -> int:
    """The staged rows with a reason, with their original text, into the quarantine: how many."""
    (bad,) = con.execute(f"select count(*) from {staged} where {REASON} is not null").fetchone()
    if not bad:
        return 0
    values = {
        "batch_id": quote_literal(batch_id),
        "profile": quote_literal(profile_name),
        "entity": quote_literal(spec.entity),
        "file_path": quote_literal(rel),
        "row_number": ROW_NUMBER,
        "raw_record": RAW_RECORD,
        "reason": REASON,
        "quarantined_at": loaded_at,
    }
    projection = ", ".join(f"cast({values[c]} as {t}) as {c}" for c, t in QUARANTINE_COLUMNS.items())
    return copy_to_parquet(
        con,
        (f"select {projection} from {staged} where {REASON} is not null order by {ROW_NUMBER}"),
        quarantine_dir(quality_dir) / f"{batch_id}.parquet",
    )


def _name_snapshot_date(spec: SourceSpec, path: Path) -> date | None:
    if spec.snapshot_date is None or spec.snapshot_date.name is None:
        return None
    return spec.snapshot_date.from_file_name(path, spec.date_formats)


def _stage(
    con,
    spec: SourceSpec,
    ent,
    path: Path,
    fmt: str,
    currency: str,
    work_dir: Path,
    staged: str,
    horizon: Horizon,
    limits: ReadLimits = ReadLimits(),
    landing_root: Path | None = None,
) -> tuple[date | None, dict]:
    """Read the file into temp table `staged` (the mapping query's rows); return the snapshot date
    the file declares in a column, if its profile says so, and the ledger's notes on what was read
    (ingestion/columns.py; lookups read from landing_root). A delimited file with a
    row wider than the reader's columns is read again with enough columns for it, so that row is
    quarantined with its field count instead of the whole file being rejected; a file with quoted
    newlines is read again on one thread (DuckDB's parallel reader cannot pad its short rows)."""
    extra_fields, serial = 1, False
    while True:
        source = open_source(con, path, fmt, spec, work_dir, extra_fields, serial, limits)
        try:
            read, notes = extended_source(con, spec, ent, source, landing_root or path.parent, work_dir)
            # No columns at all: a JSON file holding no records, a valid empty export (like a header-only CSV).
            sql = build_query(spec, ent, read, currency, horizon) if read.columns else _empty_query(ent)
            declared = None
            if spec.snapshot_date is not None and spec.snapshot_date.column is not None:
                declared = column_snapshot_date(con, spec, source)
            con.execute(f"create temp table {staged} as {sql}")
            return declared, notes
        except duckdb.Error as exc:
            if not serial and needs_serial_read(exc):
                serial = True
                continue
            wider = fields_beyond(exc, source)
            if wider is None:
                raise
            extra_fields = wider
        finally:
            source.close()


def _empty_query(ent) -> str:
    cols = ", ".join(f"cast(null as {c.type}) as {quote_ident(c.name)}" for c in ent.columns)
    return (
        f"select cast(null as bigint) as {ROW_NUMBER}, {cols}, cast(null as varchar) as {REASON}, "
        f"cast(null as varchar) as {RAW_RECORD} limit 0"
    )
