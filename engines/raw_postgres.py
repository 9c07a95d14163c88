"""Load the raw zone (append-only Parquet batches) into PostgreSQL as `raw.<entity>` tables.

The PostgreSQL twin of ingestion/raw_zone.expose: the same relations with the same typed columns
(`raw_zone.raw_columns`: canonical columns plus lineage), so the dbt project builds on PostgreSQL
from exactly the data DuckDB sees. Every entity gets a table, an empty one when nothing landed.

All tables are reloaded in ONE transaction: dbt (or a reader) sees the previous load or the new
one, never a half-loaded raw zone. Rows travel as CSV through COPY, streamed from DuckDB in Arrow
record batches (no temporary files, no row-by-row inserts). A table whose columns still match the
contract is truncated rather than dropped, so the dbt views that read it stay valid.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import duckdb
import psycopg
import pyarrow.csv as arrow_csv
from psycopg import sql

from engines.postgres import ensure_database, postgres_type
from ingestion.canonical import ENTITIES
from ingestion.raw_zone import raw_columns, raw_select

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
_BATCH_ROWS = 50_000
# Canonical types (ingestion/canonical.py) are spelled the SQL-standard way PostgreSQL also reads;
# only VARCHAR gets PostgreSQL's idiomatic name.
# PostgreSQL's CSV: an unquoted empty field is NULL and "" is an empty string, which is exactly how
# Arrow writes nulls and (always quoted) strings.
_CSV_OPTIONS = arrow_csv.WriteOptions(include_header=False, quoting_style="needed")


def load_raw_zone(raw_dir: Path, url: str, quality_dir: Path) -> dict[str, int]:
    """Load every `<raw_dir>/<entity>/*.parquet` batch into `raw.<entity>` of the PostgreSQL
    database at `url` (created when missing), replacing what an earlier load left there. Retired
    batches (ingestion/retire.py, read from quality_dir's ledger) are left out, as in the DuckDB
    raw views: the quality dir is required so that no caller can forget them.

    Returns the rows loaded per entity. On any error nothing changes (one transaction)."""
    raw_dir = Path(raw_dir)
    ensure_database(url)
    loaded: dict[str, int] = {}
    with duckdb.connect() as duck, psycopg.connect(url) as pg, pg.transaction(), pg.cursor() as cur:
        duck.execute("set enable_progress_bar = false")
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(RAW_SCHEMA)))
        for name, entity in ENTITIES.items():
            columns = {column: postgres_type(t) for column, t in raw_columns(entity).items()}
            _replace_table(cur, name, columns)
            select = raw_select(raw_dir, quality_dir, name)
            loaded[name] = _copy_rows(duck, cur, name, list(columns), select)
            # fresh statistics, or the planner guesses row counts for every model built on these
            cur.execute(sql.SQL("analyze {}").format(sql.Identifier(RAW_SCHEMA, name)))
            log.debug("raw.%s: %d rows", name, loaded[name])
    log.info("loaded %d raw rows into %d PostgreSQL tables", sum(loaded.values()), len(loaded))
    return loaded


def _replace_table(cur: psycopg.Cursor, name: str, columns: dict[str, str]) -> None:
    """Empty raw.<name> when its columns match the contract, else (re)create it."""
    column_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(pg_type)) for column, pg_type in columns.items()
    )
    # PostgreSQL normalises the contract's types for us: compare with a throwaway twin table
    expected = f"expected_{name}"
    cur.execute(sql.SQL("create temporary table {} ({}) on commit drop").format(sql.Identifier(expected), column_defs))
    if _signature(cur, f"{RAW_SCHEMA}.{name}") == _signature(cur, f"pg_temp.{expected}"):
        cur.execute(sql.SQL("truncate table {}").format(sql.Identifier(RAW_SCHEMA, name)))
        return
    # A changed contract: views built on the old columns must go too (dbt rebuilds them).
    cur.execute(sql.SQL("drop table if exists {} cascade").format(sql.Identifier(RAW_SCHEMA, name)))
    cur.execute(sql.SQL("create table {} ({})").format(sql.Identifier(RAW_SCHEMA, name), column_defs))


def _signature(cur: psycopg.Cursor, qualified: str) -> list[tuple[str, str]]:
    """(column, type as PostgreSQL normalises it) of a table, in order; [] when it does not exist."""
    return cur.execute(
        """
        select attname::text, format_type(atttypid, atttypmod)
        from pg_attribute
        where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
        order by attnum
        """,
        (qualified,),
    ).fetchall()


def _copy_rows(duck: duckdb.DuckDBPyConnection, cur: psycopg.Cursor, name: str, columns: list[str], select: str) -> int:
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(
        sql.Identifier(RAW_SCHEMA, name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with cur.copy(statement) as copy:
        for batch in duck.sql(select).to_arrow_reader(_BATCH_ROWS):
            buffer = io.BytesIO()
            arrow_csv.write_csv(batch, buffer, _CSV_OPTIONS)
            copy.write(buffer.getbuffer())
    return cur.rowcount
