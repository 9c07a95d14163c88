"""Make Great Expectations 1.x run its SQL on DuckDB (duckdb-engine), and start quickly: in one place.

GX has no DuckDB support of its own; it drives DuckDB through duckdb-engine, the SQLAlchemy
dialect. Two gaps in GX 1.24 + duckdb-engine 0.17 + SQLAlchemy 2.1 are closed here, each by
the smallest change at the point where GX or the dialect decides; `apply()` is idempotent and
`tests/test_quality_gx_duckdb.py` fails loudly when an upgrade changes any of them (each patch,
why, and what replaces it: docs/dependencies.md; the numbers are kept from there):

1. Lost query results. GX opens and releases a connection per metric query unless the dialect
   is in `_PERSISTED_CONNECTION_DIALECTS` (sqlite, mssql, ...); duckdb-engine shares one cursor per
   connection, so releasing it loses the result ("list index out of range" on every metric).
   The cure GX uses for sqlite: a StaticPool and one persistent connection; duckdb joins that list.
2. Column reflection. SQLAlchemy 2.1's PostgreSQL column query (which duckdb-engine inherits)
   joins `pg_catalog.pg_collation`, which DuckDB lacks, so every column expectation fails.
   duckdb's own `information_schema.columns` answers instead, with each type as DuckDB spells
   it (`DECIMAL(18,2)`).

Three costs of GX 1.24 are avoided here too (measured at scale 10):
4. An ephemeral context serializes its whole configuration to YAML on every data source change,
   into an in-memory store nothing reads (about 100 times a run, 1-2 s): that save is a no-op.
5. GX imports scipy.stats (~1 s) for two distribution expectations salesdw does not use: the
   import is deferred (importlib's LazyLoader) until something first touches scipy.stats.
6. GX's Decimal-to-float conversion calls inspect.stack(), which reads the source of every frame
   on the stack and can touch every loaded module (~0.5 s, and it loads the deferred scipy.stats),
   to look at each frame's file and function name only: it gets exactly those, from the frames.

One more cost, and a gap that never showed as an error:
8. Primary keys. GX asks for the primary key of every table it validates; SQLAlchemy's PostgreSQL
   constraint query casts to REGCLASS, which DuckDB lacks, so each ask cost a catalog query and a
   failing one, with its exception (~8 ms; 35 tables a run), and GX, which swallows the error, never
   got a key. DuckDB's own `duckdb_constraints()` answers in one query, with the real key.
"""

from __future__ import annotations

import os

# Before GX is imported: no usage statistics leave the machine (and no network at run time).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import contextlib  # noqa: E402
import importlib.abc  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
from typing import NamedTuple  # noqa: E402

DEFERRED_IMPORTS = ("scipy.stats",)


class _DeferredImportFinder(importlib.abc.MetaPathFinder):
    """Finds DEFERRED_IMPORTS as usual, but has them executed on first attribute access (5.)."""

    def find_spec(self, name, path, target=None):
        if name not in DEFERRED_IMPORTS:
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


@contextlib.contextmanager
def _deferred_imports():
    finder = _DeferredImportFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


with _deferred_imports():
    import duckdb_engine  # noqa: E402
    import great_expectations.util as gx_util  # noqa: E402
    import sqlalchemy as sa  # noqa: E402
    from great_expectations.data_context.data_context.ephemeral_data_context import (  # noqa: E402
        EphemeralDataContext,
    )
    from great_expectations.execution_engine import sqlalchemy_execution_engine  # noqa: E402

DIALECT = "duckdb"


class _DuckDBDialectName(str):
    """`DIALECT` as GX's dialect enum members behave: equal to the name, with a `.value`."""

    @property
    def value(self) -> str:
        return str(self)


class DuckDBType(sa.types.UserDefinedType):
    """A reflected column type that renders exactly as DuckDB spells it (e.g. `DECIMAL(18,2)`)."""

    cache_ok = True

    def __init__(self, spelling: str) -> None:
        self.spelling = spelling

    def get_col_spec(self, **kw) -> str:
        return self.spelling

    def __repr__(self) -> str:
        return f"DuckDBType({self.spelling!r})"


def _catalog_and_schema(schema: str | None) -> tuple[str | None, str | None]:
    """duckdb-engine reports schemas as "<database>.<schema>": split them (None: the current one)."""
    if schema and "." in schema:
        catalog, schema = schema.split(".", 1)
        return catalog, schema
    return None, schema


def _get_columns(self, connection, table_name, schema=None, **kw):
    """Columns of schema.table from information_schema (dialect method; see module doc, 2)."""
    catalog, schema = _catalog_and_schema(schema)
    rows = connection.execute(
        sa.text(
            "select column_name, data_type, is_nullable, column_default "
            "from information_schema.columns "
            "where table_name = :table and table_schema = coalesce(:schema, current_schema()) "
            "and table_catalog = coalesce(:catalog, current_database()) "
            "order by ordinal_position"
        ),
        {"table": str(table_name), "schema": schema, "catalog": catalog},
    ).all()
    if not rows:
        raise sa.exc.NoSuchTableError(f"{schema}.{table_name}" if schema else str(table_name))
    return [
        {"name": name, "type": DuckDBType(data_type), "nullable": is_nullable == "YES", "default": default}
        for name, data_type, is_nullable, default in rows
    ]


def _get_pk_constraint(self, connection, table_name, schema=None, **kw):
    """Primary key of schema.table from duckdb_constraints() (dialect method; see module doc, 8)."""
    catalog, schema = _catalog_and_schema(schema)
    row = connection.execute(
        sa.text(
            "select constraint_column_names, constraint_name from duckdb_constraints() "
            "where constraint_type = 'PRIMARY KEY' and table_name = :table "
            "and schema_name = coalesce(:schema, current_schema()) "
            "and database_name = coalesce(:catalog, current_database())"
        ),
        {"table": str(table_name), "schema": schema, "catalog": catalog},
    ).first()
    return {"constrained_columns": list(row[0]) if row else [], "name": row[1] if row else None}


def _keep_ephemeral_config_in_memory(self) -> None:
    """EphemeralDataContext._save_project_config (see module doc, 4): the configuration stays in
    memory, where GX reads it; only the YAML copy in the unread in-memory store is skipped."""


class _FrameNames(NamedTuple):
    filename: str
    function: str


def _stack_without_source(context: int = 0) -> list[_FrameNames]:
    """inspect.stack for GX's decimal conversion (see module doc, 6.): the caller's frames, outwards,
    with the two fields it reads."""
    names, frame = [], sys._getframe(1)
    while frame is not None:
        names.append(_FrameNames(frame.f_code.co_filename, frame.f_code.co_name))
        frame = frame.f_back
    return names


def is_applied() -> bool:
    return (
        DIALECT in sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS
        and duckdb_engine.Dialect.get_columns is _get_columns
        and duckdb_engine.Dialect.get_pk_constraint is _get_pk_constraint
        and EphemeralDataContext._save_project_config is _keep_ephemeral_config_in_memory
        and gx_util.stack is _stack_without_source
    )


def apply() -> None:
    """Patch GX and duckdb-engine in this process (idempotent)."""
    persisted = sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS
    if DIALECT not in persisted:
        sqlalchemy_execution_engine._PERSISTED_CONNECTION_DIALECTS = (*persisted, _DuckDBDialectName(DIALECT))
    duckdb_engine.Dialect.get_columns = _get_columns
    duckdb_engine.Dialect.get_pk_constraint = _get_pk_constraint
    EphemeralDataContext._save_project_config = _keep_ephemeral_config_in_memory
    gx_util.stack = _stack_without_source


def release(datasource) -> None:
    """Close every DuckDB handle a GX SQL data source opened, so other processes can write.

    The execution engine keeps its persistent connection (1.) outside the pool: close it first,
    then dispose that engine's pool and the data source's own engine (used for connection tests).
    """
    execution_engine = getattr(datasource, "_execution_engine", None)
    if execution_engine is not None:
        connection = getattr(execution_engine, "_connection", None)
        if connection is not None:
            connection.close()
            execution_engine._connection = None
        execution_engine.close()
    engine = getattr(datasource, "_engine", None)
    if engine is not None:
        engine.dispose()
