"""The ingestion ledger (quality.ingestion_ledger) and the raw zone's commit protocol.

Every Parquet file of the raw zone is written under a temporary name and renamed into place,
and a file attempt's ledger row is written LAST: the ledger row is the commit marker. A raw or
quarantine batch without a ledger row was left by a crashed attempt; `cleanup_orphans` deletes
it at the start of every ingest, so a re-run loads that file exactly once.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.file_modes import private_dir, private_file
from ingestion.profile import quote_literal
from ingestion.raw_zone import LEDGER_COLUMNS, parquet_select

TMP_SUFFIX = ".tmp"


def ledger_dir(quality_dir: Path) -> Path:
    return Path(quality_dir) / "ledger"


def quarantine_dir(quality_dir: Path) -> Path:
    return Path(quality_dir) / "quarantine"


def copy_to_parquet(con: duckdb.DuckDBPyConnection, select_sql: str, target: Path, params=None) -> int:
    """Write the query's rows to `target` atomically (temp name, then rename); returns the row count."""
    private_dir(target.parent)  # raw zone, quarantine and ledger hold exports as landed
    tmp = target.with_name(f".{target.name}{TMP_SUFFIX}")
    (count,) = con.execute(
        f"copy ({select_sql}) to {quote_literal(str(tmp))} (format parquet)", params or []
    ).fetchone()
    private_file(tmp)  # before the rename: never readable by others under its final name
    os.replace(tmp, target)
    return int(count)


def write_ledger_row(con: duckdb.DuckDBPyConnection, quality_dir: Path, row: dict) -> Path:
    """Commit one file attempt: its ledger row, typed as raw_zone.LEDGER_COLUMNS."""
    projection = ", ".join(f"cast(? as {t}) as {c}" for c, t in LEDGER_COLUMNS.items())
    target = ledger_dir(quality_dir) / f"{row['batch_id']}.parquet"
    copy_to_parquet(con, f"select {projection}", target, [row.get(c) for c in LEDGER_COLUMNS])
    return target


def read_ledger(quality_dir: Path) -> pd.DataFrame:
    """The whole ledger, oldest attempt first (a small table: one row per landed file attempt)."""
    # rows written before a column joined the ledger (retired_at) read it as NULL
    with duckdb.connect() as con:
        return con.sql(
            f"select * from ({parquet_select(ledger_dir(quality_dir), LEDGER_COLUMNS)}) order by batch_id"
        ).df()


def committed_batch_ids(quality_dir: Path) -> set[str]:
    return {p.stem for p in ledger_dir(quality_dir).glob("*.parquet")}


def cleanup_orphans(raw_dir: Path, quality_dir: Path) -> list[Path]:
    """Delete raw and quarantine batches that have no ledger row, and temp files of crashed writes."""
    committed = committed_batch_ids(quality_dir)
    removed: list[Path] = []
    folders = [p for p in Path(raw_dir).glob("*") if p.is_dir()] + [quarantine_dir(quality_dir)]
    for folder in folders:
        for path in folder.glob("*.parquet"):
            if path.stem not in committed:
                path.unlink(missing_ok=True)
                removed.append(path)
    for folder in folders + [ledger_dir(quality_dir)]:
        for path in folder.glob(f".*{TMP_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
