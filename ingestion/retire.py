"""Retire a loaded batch: recover from a bad file by taking it back out, then land the good one.

The ledger row of a retired batch gets `retired_at` and `retired_reason` (its Parquet file is
rewritten atomically, like every ledger write); the batch itself stays in the raw zone, as
landed, but `raw.<entity>` (and so staging and the marts) no longer reads it, and its content no
longer counts as loaded: the same file landed again loads again. The next dbt build is a full
refresh (the incremental models may hold rows of the retired batch): retiring leaves a marker
beside the build warehouse that the dbt step reads and clears once dbt has succeeded.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from ingestion.hashing import file_sha256
from ingestion.ledger import read_ledger, write_ledger_row
from ingestion.raw_zone import LEDGER_COLUMNS

FULL_REFRESH_MARKER = "full_refresh_needed.json"


class NothingToRetire(ValueError):
    """No loaded, unretired batch matches what was asked for."""


@dataclass(frozen=True)
class Retired:
    batch_id: str
    profile: str
    entity: str
    file_path: str
    rows_loaded: int


def retire(
    target: str, reason: str, *, quality_dir: Path, landing_dir: Path, warehouse_dir: Path, profile: str | None = None
) -> list[Retired]:
    """Retire the batches `target` names: a batch id, or a landed file (its path under the landing
    folder, or as the ledger records it: relative to its profile's folder, e.g. accounts/a.csv;
    see _batches_of_file). Raises NothingToRetire when none match."""
    if not reason.strip():
        raise ValueError("give a reason (--reason): it is kept in the ledger")
    ledger = read_ledger(quality_dir)
    live = ledger[(ledger["status"] == "loaded") & ledger["retired_at"].isna()]
    chosen = live[live["batch_id"] == target]
    if chosen.empty:
        chosen = _batches_of_file(live, target, Path(landing_dir), profile)
    if chosen.empty:
        raise NothingToRetire(f"{target}: no loaded batch of that id or file (already retired, or never loaded?)")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    retired = []
    with duckdb.connect() as con:
        for row in chosen.to_dict("records"):
            values = {c: _plain(row.get(c)) for c in LEDGER_COLUMNS}
            values.update(retired_at=now, retired_reason=reason.strip())
            write_ledger_row(con, quality_dir, values)
            retired.append(
                Retired(row["batch_id"], row["profile"], row["entity"], row["file_path"], int(row["rows_loaded"]))
            )
    request_full_refresh(warehouse_dir, [r.batch_id for r in retired])
    return retired


def _batches_of_file(live, target: str, landing_dir: Path, profile: str | None):
    """The live batches a file names: loaded from that path with the bytes it holds now when it is
    still landed (the bad version, not the earlier good ones of the same name); otherwise the
    newest batch loaded from that path (per profile)."""
    profile, file_path = _as_ledger_path(target, landing_dir, profile)
    mine = live[live["file_path"] == file_path]
    if profile is not None:
        mine = mine[mine["profile"] == profile]
    landed = [landing_dir / p / file_path for p in ([profile] if profile else mine["profile"].unique())]
    hashes = {file_sha256(p) for p in landed if p.is_file()}
    if hashes:
        return mine[mine["file_sha256"].isin(hashes)]
    return mine.sort_values("batch_id").groupby("profile").tail(1)


def _as_ledger_path(target: str, landing_dir: Path, profile: str | None) -> tuple[str | None, str]:
    """(profile, file_path as the ledger has it) for a path under the landing folder
    (<landing>/<profile>/<file>); otherwise the target as given."""
    path = Path(target).expanduser()
    try:
        parts = path.resolve().relative_to(landing_dir.resolve()).parts
    except ValueError:
        return profile, target
    if len(parts) < 2:
        return profile, target
    return parts[0], "/".join(parts[1:])


def _plain(value):
    """A pandas cell as a plain Python value for the ledger writer (NaN/NaT -> None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "to_pydatetime"):
        return None if str(value) == "NaT" else value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def request_full_refresh(warehouse_dir: Path, batch_ids: list[str]) -> None:
    marker = Path(warehouse_dir) / FULL_REFRESH_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    earlier = full_refresh_reasons(warehouse_dir)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"retired_batches": earlier + batch_ids}))
    os.replace(tmp, marker)


def full_refresh_reasons(warehouse_dir: Path) -> list[str]:
    """The retired batches the next build must fully refresh for ([]: none pending)."""
    try:
        return list(json.loads((Path(warehouse_dir) / FULL_REFRESH_MARKER).read_text())["retired_batches"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def full_refresh_pending(warehouse_dir: Path) -> bool:
    return (Path(warehouse_dir) / FULL_REFRESH_MARKER).exists()


def clear_full_refresh(warehouse_dir: Path) -> None:
    (Path(warehouse_dir) / FULL_REFRESH_MARKER).unlink(missing_ok=True)
