"""Publish the marts (and the safe quality tables) from the DuckDB warehouse into PostgreSQL.

Write-audit-publish, PostgreSQL side: every published schema is loaded into a fresh
`<schema>__staging_<n>` and then swapped in by renaming, all in ONE transaction. A BI reader
therefore sees either the previous publish or the new one, never a missing table, a half-loaded
table or a table it may not read (the grants are re-made inside the same transaction). A publish
that fails anywhere rolls back whole and leaves the previous publish untouched.

`quality.quarantine` is never published: it holds raw rejected rows with personal data.

The read-only role `salesdw_reader` is created NOLOGIN: it carries the privileges, and people or
BI tools log in with their own roles that are granted membership (`grant salesdw_reader to bi`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from engines.postgres import ensure_database, postgres_type

log = logging.getLogger(__name__)

READER_ROLE = "salesdw_reader"
QUALITY_SCHEMA = "quality"
# Never leaves the warehouse: rejected rows as landed, with e-mail addresses and phone numbers.
NEVER_PUBLISHED = frozenset({(QUALITY_SCHEMA, "quarantine")})
# Serialises publishes to one database (two concurrent swaps would race on the schema names).
_PUBLISH_LOCK_KEY = 0x5A1E5D5
_COPY_CHUNK_BYTES = 1 << 20


# DuckDB type (as information_schema spells it) -> PostgreSQL type. DECIMAL(p,s) is handled apart.
class PublishError(RuntimeError):
    """A publish failed; the previous publish is still in place. The message never holds a password."""


@dataclass(frozen=True)
class PublishSummary:
    database: str
    url: str  # password masked
    tables: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows copied
    skipped: tuple[str, ...] = ()  # requested quality tables the warehouse does not have
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name.split(".", 1)[0] for name in self.tables))


@dataclass(frozen=True)
class _Table:
    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type), in DuckDB's order

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def mask_url(url: str) -> str:
    """The connection string with its password replaced by *** (URL or key=value form)."""
    masked = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)", r"\1***", url, flags=re.I)
    try:
        parts = urlsplit(masked)
    except ValueError:
        return masked
    if parts.scheme in ("postgres", "postgresql") and parts.password is not None:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
    return masked


def _scrub(text: str, url: str) -> str:
    password = _conninfo(url).get("password")
    if password:
        text = text.replace(str(password), "***")
    return text.replace(url, mask_url(url))


def _conninfo(url: str) -> dict:
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return {}


def publish_to_postgres(
    warehouse: Path,
    url: str,
    *,
    schemas: Sequence[str] = ("marts",),
    quality_tables: Sequence[str] = ("ingestion_ledger", "check_results"),
) -> PublishSummary:
    """Copy every table (and view) of `schemas` plus the named `quality` tables from the DuckDB
    `warehouse` into the PostgreSQL database at `url`, swapping them in atomically.

    Creates the database when the URL names one that does not exist, and the NOLOGIN role
    `salesdw_reader`, which gets USAGE on the published schemas and SELECT on their tables only.
    Raises PublishError (password masked) on any failure; the previous publish then stays as it was.
    """
    if QUALITY_SCHEMA in schemas:
        raise ValueError("publish quality tables through quality_tables=, never the whole schema")
    if any((QUALITY_SCHEMA, t) in NEVER_PUBLISHED for t in quality_tables):
        raise ValueError("quality.quarantine holds raw rows with personal data: it is never published")
    started = time.monotonic()
    try:
        with duckdb.connect(str(warehouse), read_only=True) as duck:
            plan, skipped = _plan(duck, schemas, quality_tables)
            ensure_database(url)
            _ensure_reader_role(url)
            with psycopg.connect(url) as pg:
                database = pg.info.dbname
                tables = _load_and_swap(duck, pg, plan)
    except (psycopg.Error, duckdb.Error, OSError, ValueError) as exc:
        raise PublishError(_scrub(f"publish to {mask_url(url)} failed: {type(exc).__name__}: {exc}", url)) from None
    summary = PublishSummary(
        database=database, url=mask_url(url), tables=tables, skipped=skipped, seconds=time.monotonic() - started
    )
    log.info(
        "published %d tables (%d rows) to %s in %.1f s%s",
        len(tables),
        summary.rows,
        summary.url,
        summary.seconds,
        f"; not in the warehouse: {', '.join(skipped)}" if skipped else "",
    )
    return summary


def _plan(
    duck: duckdb.DuckDBPyConnection,
    schemas: Iterable[str],
    quality_tables: Sequence[str],
) -> tuple[dict[str, list[_Table]], tuple[str, ...]]:
    """What to publish, per target schema, with the PostgreSQL column types (fails before any write)."""
    rows = duck.execute(
        """
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_catalog = current_database()
        order by table_schema, table_name, ordinal_position
        """
    ).fetchall()
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        found.setdefault((schema, table), []).append((column, data_type))

    wanted: list[tuple[str, str]] = [key for s in schemas for key in sorted(found) if key[0] == s]
    skipped = []
    for table in quality_tables:
        if (QUALITY_SCHEMA, table) in found:
            wanted.append((QUALITY_SCHEMA, table))
        else:
            skipped.append(f"{QUALITY_SCHEMA}.{table}")
    missing_schemas = [s for s in schemas if not any(key[0] == s for key in found)]
    if missing_schemas:
        raise ValueError(f"the warehouse has no tables in schema(s) {', '.join(missing_schemas)}")

    plan: dict[str, list[_Table]] = {}
    for schema, table in wanted:
        if (schema, table) in NEVER_PUBLISHED:
            continue
        columns = []
        for column, data_type in found[(schema, table)]:
            try:
                columns.append((column, postgres_type(data_type)))
            except ValueError as exc:
                raise ValueError(f"{schema}.{table}.{column}: {exc}") from None
        plan.setdefault(schema, []).append(_Table(schema, table, tuple(columns)))
    return plan, tuple(skipped)


def _ensure_reader_role(url: str) -> None:
    # Roles are cluster-wide and CREATE ROLE races with other publishers: its own autocommit step.
    with psycopg.connect(url, autocommit=True) as pg:
        if pg.execute("select 1 from pg_roles where rolname = %s", (READER_ROLE,)).fetchone():
            return
        try:
            pg.execute(sql.SQL("create role {} nologin").format(sql.Identifier(READER_ROLE)))
            log.info("created PostgreSQL role %s (NOLOGIN)", READER_ROLE)
        except (errors.DuplicateObject, errors.UniqueViolation):
            pass  # created concurrently


def _load_and_swap(
    duck: duckdb.DuckDBPyConnection, pg: psycopg.Connection, plan: dict[str, list[_Table]]
) -> dict[str, int]:
    suffix = uuid.uuid4().hex[:8]
    reader = sql.Identifier(READER_ROLE)
    copied: dict[str, int] = {}
    with pg.transaction(), pg.cursor() as cur, tempfile.TemporaryDirectory(prefix="salesdw-publish-") as tmp:
        cur.execute("select pg_advisory_xact_lock(%s)", (_PUBLISH_LOCK_KEY,))
        for schema, tables in plan.items():
            staging = f"{schema}__staging_{suffix}"
            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(staging)))
            for table in tables:
                copied[table.qualified] = _copy_table(duck, cur, table, staging, Path(tmp))
                log.debug("copied %s: %d rows", table.qualified, copied[table.qualified])

        # The swap: from here to commit, readers queue briefly on the old tables, then see the new.
        for schema in plan:
            staging, old = f"{schema}__staging_{suffix}", f"{schema}__old_{suffix}"
            exists = cur.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
            if exists:
                cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(schema), sql.Identifier(old)))
            cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(staging), sql.Identifier(schema)))
            if exists:
                cur.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(old)))
            cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), reader))
            cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(sql.Identifier(schema), reader))
        _revoke_public_create(cur)
    return copied


def _copy_table(duck: duckdb.DuckDBPyConnection, cur: psycopg.Cursor, table: _Table, staging: str, tmp: Path) -> int:
    """Create the table in the staging schema and bulk-load it with COPY from a DuckDB CSV export."""
    target = sql.Identifier(staging, table.name)
    column_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(col), sql.SQL(pg_type)) for col, pg_type in table.columns
    )
    cur.execute(sql.SQL("create table {} ({})").format(target, column_defs))

    # DuckDB writes NULL as an unquoted empty field and '' as "", exactly what PostgreSQL's CSV reads.
    csv_path = tmp / f"{table.schema}.{table.name}.csv"
    select_list = ", ".join(_duck_ident(col) for col, _ in table.columns)
    duck.execute(
        f"copy (select {select_list} from {_duck_ident(table.schema)}.{_duck_ident(table.name)}) "
        f"to '{str(csv_path).replace(chr(39), chr(39) * 2)}' (format csv, header false)"
    )
    columns = sql.SQL(", ").join(sql.Identifier(col) for col, _ in table.columns)
    with (
        cur.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(target, columns)) as copy,
        csv_path.open("rb") as stream,
    ):
        while chunk := stream.read(_COPY_CHUNK_BYTES):
            copy.write(chunk)
    csv_path.unlink()
    return cur.rowcount


def _revoke_public_create(cur: psycopg.Cursor) -> None:
    # Readers (members of PUBLIC) must not create objects in the public schema (PostgreSQL < 15
    # allows it by default). Needs the schema's owner; a publisher that is not keeps publishing.
    try:
        with cur.connection.transaction():
            cur.execute("revoke create on schema public from public")
    except errors.InsufficientPrivilege:
        log.warning("could not revoke CREATE on schema public from PUBLIC (not its owner)")
    except errors.InvalidSchemaName:
        pass  # no public schema: nothing to close


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
