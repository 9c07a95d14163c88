"""A daily refresh that rebuilds the months the new data touched (issue 23), or everything.

Before dbt runs, `plan_refresh` decides between a full refresh and a month refresh, and writes the
months to rebuild to `control.rebuild_months` in the build warehouse, where the month-partitioned
incremental models read them (a table, not a dbt var: a changed var defeats dbt's partial parse).
After dbt succeeded, `commit_refresh` keeps in <warehouse dir>/refresh_state.json what this build
was made from: the live raw batches, and a fingerprint of everything else that can alter any month
(the dbt project's models, macros, seeds and profile, the dbt vars, the engine). The next run
rebuilds only the months its new batches touch (ingestion/changes.py); a full refresh when:

- there is no state (first build), or the build warehouse is gone;
- the fingerprint changed (a model, seed, macro or var may change every month);
- a batch the last build read is no longer live (retired), or a retire is pending;
- a new batch is not newer than every batch the last build read: the incremental staging models
  (macros/incremental_staging.sql) find new rows by _loaded_at after the newest they hold;
- the new batches touch every month (a products snapshot, a rep's earliest state restated);
- `salesdw run --full-refresh` asked for one (a request file the dbt step reads, so a run started
  from the Dagster UI after the CLI asked honours it too).

`salesdw run --rebuild-months 2025-03,2025-04` adds months to the next refresh (a fix, a late
file): a request file rather than Dagster partitions, because the dbt assets are one multi-asset
whose unpartitioned marts and checks would each need a partition mapping, and each partition
would be its own dbt invocation with dbt's fixed cost (about 6 s) per month.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path

import duckdb

from ingestion.changes import changes_since, latest_month, live_batches
from ingestion.retire import full_refresh_pending, full_refresh_reasons
from orchestration.settings import DBT_PROJECT_DIR, Settings

STATE_FILE = "refresh_state.json"
REQUEST_FILE = "refresh_request.json"
REQUEST_LOCK = "refresh_request.lock"
# a new dbt, adapter or engine may compute any month differently (a function's rounding, a fix)
VERSIONED = ("dbt-core", "dbt-duckdb", "dbt-postgres", "dbt-spark", "duckdb")
FINGERPRINTED = ("models", "macros", "seeds", "dbt_project.yml", "profiles.yml")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BATCH_ID = re.compile(r"^\d{8}T\d{12}-")  # ingestion/loader.py: the batch's load time leads its id
BATCH_STAMP = 21


@dataclass
class RefreshPlan:
    full: bool
    reasons: list[str] = field(default_factory=list)  # why a full refresh
    months: list[str] = field(default_factory=list)  # YYYY-MM rebuilt by a month refresh
    new_batches: dict[str, list[str]] = field(default_factory=dict)
    batches: list[str] = field(default_factory=list)  # every live batch this build reads
    fingerprint: str = ""
    latest_month: str | None = None
    requests: list[str] = field(default_factory=list)  # ids of the requests this build honours

    def metadata(self) -> dict[str, str]:
        """What a run's materialization and `salesdw status` show."""
        new = ", ".join(f"{e} {len(b)}" for e, b in sorted(self.new_batches.items())) or "none"
        return {
            "refresh": "full" if self.full else "months",
            "touched months": "every month" if self.full else (", ".join(self.months) or "none"),
            "why full": "; ".join(self.reasons),
            "new batches": new,
        }


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def fingerprint(dbt_vars: dict, engine: str, project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the dbt project's files that can alter any month, the vars, the engine and the
    versions of dbt, its adapters and DuckDB."""
    key = {"vars": dbt_vars, "engine": engine, "versions": _versions()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode())
    for name in FINGERPRINTED:
        root = project_dir / name
        for path in sorted([root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())):
            digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def parse_months(text: str) -> list[str]:
    """`2025-03,2025-04` as months; a clear error for anything else."""
    months = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in months if not MONTH.match(m)]
    if bad or not months:
        raise ValueError(f"--rebuild-months {text!r}: give months as YYYY-MM, comma-separated (bad: {bad or text})")
    return sorted(set(months))


@contextmanager
def _request_lock(warehouse_dir: Path) -> Iterator[None]:
    """One writer of the request file at a time: a CLI asking while a run commits loses nothing."""
    Path(warehouse_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(warehouse_dir) / REQUEST_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _requests(warehouse_dir: Path) -> list[dict]:
    """The pending requests, each {id, full, months}, oldest first."""
    try:
        stored = json.loads((Path(warehouse_dir) / REQUEST_FILE).read_text())
    except (OSError, ValueError):
        return []
    entries = stored.get("requests") if isinstance(stored, dict) else None
    return [e for e in entries or [] if isinstance(e, dict) and "id" in e]


def _write_requests(warehouse_dir: Path, entries: list[dict]) -> None:
    path = Path(warehouse_dir) / REQUEST_FILE
    if entries:
        _write_json(path, {"requests": entries})
    else:
        path.unlink(missing_ok=True)


def request(warehouse_dir: Path, *, full: bool = False, months: list[str] = ()) -> None:
    """Ask the next dbt build for a full refresh or for these months too (kept beside earlier asks
    until a build that read them succeeds)."""
    with _request_lock(warehouse_dir):
        entry = {"id": uuid.uuid4().hex, "full": full, "months": sorted(set(months))}
        _write_requests(warehouse_dir, [*_requests(warehouse_dir), entry])


def read_request(warehouse_dir: Path) -> dict:
    """The pending requests merged: {full, months, ids}."""
    entries = _requests(warehouse_dir)
    return {
        "full": any(bool(e.get("full")) for e in entries),
        "months": sorted({m for e in entries for m in e.get("months") or []}),
        "ids": [e["id"] for e in entries],
    }


def read_state(warehouse_dir: Path) -> dict | None:
    try:
        return json.loads((Path(warehouse_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def plan_refresh(settings: Settings, dbt_vars: dict) -> RefreshPlan:
    """Full or month refresh for this build, and which months (see the module docstring)."""
    # unbounded, the derivation's scans of the raw zone took 3.7 GB at scale 500
    limits = settings.duckdb_limits()
    live = live_batches(settings.raw_dir, settings.quality_dir, limits)
    batches = sorted(b for ids in live.values() for b in ids)
    plan = RefreshPlan(full=False, batches=batches, fingerprint=fingerprint(dbt_vars, settings.engine))
    state, asked = read_state(settings.warehouse_dir), read_request(settings.warehouse_dir)
    plan.requests = asked["ids"]
    reasons = [
        why
        for why, applies in (
            ("no earlier build", state is None or not settings.build_warehouse.exists()),
            ("the dbt project or its vars changed", state is not None and state.get("fingerprint") != plan.fingerprint),
            (
                f"retired batches {', '.join(full_refresh_reasons(settings.warehouse_dir))}",
                full_refresh_pending(settings.warehouse_dir),
            ),
            ("a full refresh was asked for (--full-refresh)", asked["full"]),
        )
        if applies
    ]
    known = set((state or {}).get("batches", []))
    if state is not None and known - set(batches):
        reasons.append("a batch the last build read is no longer live")
    if state is not None and _older_than_known(set(batches) - known, known):
        reasons.append("a new batch is older than the newest the last build read")
    if reasons:  # what is new does not matter: everything is rebuilt
        plan.full, plan.reasons = True, reasons
        latest = latest_month(settings.raw_dir, settings.quality_dir, limits)
        plan.latest_month = latest.strftime("%Y-%m") if latest else None
        return plan
    last = state.get("latest_month")
    changes = changes_since(
        settings.raw_dir, settings.quality_dir, known, date.fromisoformat(last + "-01") if last else None, limits
    )
    plan.new_batches, plan.reasons, plan.full = changes.new_batches, changes.reasons, changes.every_month
    plan.latest_month = changes.latest_month.strftime("%Y-%m") if changes.latest_month else last
    if not plan.full:
        plan.months = sorted(set(changes.month_labels()) | set(asked["months"]))
    return plan


def _older_than_known(new: set[str], known: set[str]) -> bool:
    """A new batch whose load time (the id's leading timestamp) is not after every known batch's."""
    stamps = [b[:BATCH_STAMP] for b in known if BATCH_ID.match(b)]
    return bool(stamps) and any(BATCH_ID.match(b) and b[:BATCH_STAMP] <= max(stamps) for b in new)


def write_control(settings: Settings, plan: RefreshPlan) -> None:
    """control.rebuild_months in the build warehouse: the months a month refresh rebuilds (empty
    for a full refresh, which rebuilds every table whole)."""
    months = [] if plan.full else plan.months
    with duckdb.connect(str(settings.build_warehouse), config=settings.duckdb_limits()) as con:
        con.execute("create schema if not exists control")
        con.execute("create or replace table control.rebuild_months (month date not null)")
        if months:
            con.executemany(
                "insert into control.rebuild_months values (cast(? as date))", [[m + "-01"] for m in months]
            )


def commit_refresh(settings: Settings, plan: RefreshPlan) -> None:
    """dbt succeeded: the next run starts from this build, and the requests the plan read are done
    (one made while dbt ran stays for the next build). control.rebuild_months is dropped, so a dbt
    build run by hand afterwards rebuilds every month instead of repeating this build's months."""
    state = {k: v for k, v in asdict(plan).items() if k in ("fingerprint", "batches", "latest_month", "full", "months")}
    state["summary"] = plan.metadata()
    _write_json(settings.warehouse_dir / STATE_FILE, state)
    with _request_lock(settings.warehouse_dir):
        honoured = set(plan.requests)
        _write_requests(
            settings.warehouse_dir, [e for e in _requests(settings.warehouse_dir) if e["id"] not in honoured]
        )
    if settings.build_warehouse.exists():
        with duckdb.connect(str(settings.build_warehouse), config=settings.duckdb_limits()) as con:
            con.execute("drop table if exists control.rebuild_months")


def describe_last(warehouse_dir: Path) -> str | None:
    """The last successful build's refresh, in a line for `salesdw status`."""
    summary = (read_state(warehouse_dir) or {}).get("summary")
    if not summary:
        return None
    if summary["refresh"] == "full":
        return f"Last build: full refresh ({summary['why full'] or 'asked'})"
    return f"Last build: rebuilt months {summary['touched months']} (new batches: {summary['new batches']})"


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)
