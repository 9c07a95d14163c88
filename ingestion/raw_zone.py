"""Expose the raw zone (append-only Parquet batches) to a DuckDB warehouse as `raw.<entity>` views.

dbt reads `raw.<entity>` as ordinary source relations, so the models never know whether the raw
zone is Parquet on local disk (DuckDB views), tables loaded into PostgreSQL, or external tables
on Spark. An entity with no batch yet gets an empty, typed view so every model still builds.

Layout (shared with ingestion.loader and ingestion.ledger):
    <raw_dir>/<entity>/<batch_id>.parquet      typed canonical columns + lineage columns
    <quality_dir>/ledger/<batch_id>.parquet     one ingestion_ledger row per file attempt
    <quality_dir>/quarantine/<batch_id>.parquet rows that did not load, with their reason
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from ingestion.canonical import ENTITIES, LINEAGE_COLUMNS, Entity
from ingestion.file_modes import private_file

LEDGER_COLUMNS: dict[str, str] = {
    "batch_id": "VARCHAR",
    "profile": "VARCHAR",
    "entity": "VARCHAR",
    "file_path": "VARCHAR",
    "file_sha256": "VARCHAR",
    "file_bytes": "BIGINT",
    "status": "VARCHAR",  # loaded | duplicate_file | rejected
    "rows_read": "BIGINT",
    "rows_loaded": "BIGINT",
    "rows_quarantined": "BIGINT",
    "error": "VARCHAR",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "snapshot_date": "DATE",  # of a loaded file (exports.md "Snapshots are effective-dated")
    # set by `salesdw retire` (ingestion/retire.py): the batch stays in raw, unread from then on
    "retired_at": "TIMESTAMP",
    "retired_reason": "VARCHAR",
    "missing_columns": "VARCHAR",  # source columns a loaded file lacks, e.g. `BillingState (region)`
    "lookup_files": "VARCHAR",  # files a `lookup:` joined in, and how many rows each fed
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "batch_id": "VARCHAR",
    "profile": "VARCHAR",
    "entity": "VARCHAR",
    "file_path": "VARCHAR",
    "row_number": "BIGINT",
    "raw_record": "VARCHAR",  # the original values as JSON text
    "reason": "VARCHAR",
    "quarantined_at": "TIMESTAMP",
}


def raw_columns(ent: Entity) -> dict[str, str]:
    cols = {c.name: c.type for c in ent.columns}
    cols.update(LINEAGE_COLUMNS)
    return cols


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _empty_select(columns: dict[str, str]) -> str:
    return "select " + ", ".join(f"cast(null as {t}) as {c}" for c, t in columns.items()) + " limit 0"


def parquet_select(folder: Path, columns: dict[str, str]) -> str:
    """Select over every batch in folder, cast to the contract.

    Batches written before a column joined the contract lack it, possibly all of them: the union
    by name with the typed empty row set gives such a column NULL (DuckDB drops the empty side)."""
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        return _empty_select(columns)
    glob = _sql_str(str(folder / "*.parquet"))
    projection = ", ".join(f"cast({c} as {t}) as {c}" for c, t in columns.items())
    batches = f"select * from read_parquet({glob}, union_by_name = true)"
    return f"select {projection} from (({_empty_select(columns)}) union all by name ({batches}))"


def live_select(raw_dir: Path, quality_dir: Path, entity: str, columns: dict[str, str]) -> str:
    """parquet_select over an entity's batches but the retired ones (ingestion/retire.py: a retired
    batch stays in the raw zone, and nothing downstream reads it)."""
    ledger = parquet_select(Path(quality_dir) / "ledger", LEDGER_COLUMNS)
    retired = f"select batch_id from ({ledger}) where retired_at is not null"
    return f"select * from ({parquet_select(Path(raw_dir) / entity, columns)}) where _batch_id not in ({retired})"


def raw_select(raw_dir: Path, quality_dir: Path, entity: str) -> str:
    """The select behind the raw.<entity> view: the entity's live batches, typed as the raw contract."""
    return live_select(raw_dir, quality_dir, entity, raw_columns(ENTITIES[entity]))


def expose(con: duckdb.DuckDBPyConnection, raw_dir: Path, quality_dir: Path) -> None:
    """(Re)create raw.<entity> and quality.{ingestion_ledger,quarantine} views in `con`."""
    con.execute("create schema if not exists raw")
    views = {f"raw.{name}": raw_select(raw_dir, quality_dir, name) for name in ENTITIES}
    _create_views(con, views)
    expose_quality(con, quality_dir)


def expose_quality(con: duckdb.DuckDBPyConnection, quality_dir: Path) -> None:
    """(Re)create the quality.{ingestion_ledger,quarantine} views only: a raw view reads the footer
    of every Parquet batch of its entity when it is created."""
    con.execute("create schema if not exists quality")
    views = {
        "quality.ingestion_ledger": parquet_select(quality_dir / "ledger", LEDGER_COLUMNS),
        "quality.quarantine": parquet_select(quality_dir / "quarantine", QUARANTINE_COLUMNS),
    }
    _create_views(con, views)


def _create_views(con: duckdb.DuckDBPyConnection, views: dict[str, str]) -> None:
    """Create each view, unless the catalog holds it with this very definition (its comment, which
    dbt's docs show, names a hash of it): creating one binds its query, which reads every Parquet
    footer it covers, and the build warehouse gets the same views from the ingest step and again
    from the dbt step."""
    stamps = dict(
        con.execute(
            "select schema_name || '.' || view_name, comment from duckdb_views() "
            "where database_name = current_database() and not internal"
        ).fetchall()
    )
    for view, query in views.items():
        stamp = f"salesdw: a view over Parquet files, definition sha256 {hashlib.sha256(query.encode()).hexdigest()}"
        if stamps.get(view) != stamp:
            con.execute(f"create or replace view {view} as {query}")
            con.execute(f"comment on view {view} is {_sql_str(stamp)}")


def expose_file(warehouse: Path, raw_dir: Path, quality_dir: Path) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        expose(con, raw_dir, quality_dir)
    private_file(warehouse)  # the build warehouse's staging models and views read personal data
