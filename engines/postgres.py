"""PostgreSQL plumbing shared by the raw-zone loader (engines/raw_postgres.py) and the mart
publish (orchestration/serving/postgres.py): DuckDB-to-PostgreSQL types and database creation."""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

_TYPE_MAP = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric(39,0)",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "UHUGEINT": "numeric(39,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "jsonb",
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def postgres_type(duckdb_type: str) -> str:
    """The faithful PostgreSQL type for a DuckDB column type; ValueError when there is none."""
    spelled = duckdb_type.strip().upper()
    if m := _DECIMAL.fullmatch(spelled):
        return f"numeric({m.group(1)},{m.group(2)})"
    try:
        return _TYPE_MAP[spelled]
    except KeyError:
        raise ValueError(f"no PostgreSQL mapping for DuckDB type {duckdb_type}") from None


def ensure_database(url: str) -> None:
    """Create the database `url` names when it does not exist yet."""
    try:
        psycopg.connect(url).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    dbname = conninfo_to_dict(url).get("dbname")
    if not dbname:
        raise ValueError("the PostgreSQL URL names no database")
    # CREATE DATABASE cannot run inside a transaction: autocommit on the maintenance database.
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
            log.info("created PostgreSQL database %s", dbname)
        except errors.DuplicateDatabase:
            pass  # created concurrently
