"""PostgreSQL publish: faithful copies, atomic swaps, a read-only role, quarantine kept home.

Runs against the real server at 127.0.0.1:5432 (user postgres, trust auth) in a throwaway
database made for this module and dropped at its end.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import errors

from orchestration.serving.postgres import PublishError, mask_url, publish_to_postgres
from tests.conftest import require_postgres

pytestmark = pytest.mark.postgres

SERVER = "postgresql://postgres@127.0.0.1:5432"
PASSWORD = "s3cret-Pw0rd"  # ignored under trust auth; must never show up in logs or errors


require_postgres(f"{SERVER}/postgres", module_level=True)


# ---------------------------------------------------------------- fixture warehouses


def _make_warehouse(path: Path, *, dim_rows: int, broken: bool = False, with_checks: bool = True) -> Path:
    """A DuckDB warehouse with the types the marts use, awkward strings, NULLs, and the schemas
    that must not be published (staging, quality.quarantine)."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema quality; create schema staging")
    con.execute("""
        create table marts.dim_customers (
            account_id varchar, account_name varchar, lifetime_orders bigint,
            lifetime_net_revenue decimal(18,2), first_order_date date, is_vip boolean,
            recency_days integer)
    """)
    names = ['Acme, "the" best', "多行\nname", "", None, "plain"]
    for i in range(dim_rows):
        con.execute(
            "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?)",
            [
                f"A{i:03d}",
                names[i % len(names)],
                i * 3 if i % 4 else None,
                Decimal(f"{i * 1234}.{i % 100:02d}") if i % 3 else None,
                date(2025, 1 + i % 12, 1 + i % 28),
                i % 2 == 0,
                i * 7,
            ],
        )
    con.execute("""
        create table marts.mart_team_kpi_monthly as
        select * from (values
            (date '2025-01-01', 'T1', 1000.50::decimal(18,2), 1.0/3, 3::bigint, timestamp '2025-01-31 23:59:59.123456'),
            (date '2025-01-01', 'T2', 0.00::decimal(18,2), null::double, 0::bigint, null::timestamp),
            (date '2025-02-01', 'T1', -12.34::decimal(18,2), 1e300, 9007199254740993::bigint,
             timestamp '2025-02-01 00:00:00')
        ) t(month, team_id, net_revenue, win_rate, opportunities_won, computed_at)
    """)
    # The real ledger is a view over Parquet files: views must publish like tables.
    con.execute("""
        create table staging.ledger_rows as select 'b1' as batch_id, 'orders' as entity, 'loaded' as status,
            10::bigint as rows_read, 9::bigint as rows_loaded, 1::bigint as rows_quarantined
    """)
    con.execute("create view quality.ingestion_ledger as select * from staging.ledger_rows")
    if with_checks:
        con.execute("""
        create table quality.check_results as select 'r1' as run_id, 'marts' as layer, 'dim_customers' as asset,
            'unique_account' as check_name, true as passed, 'error' as severity, '0' as observed_value,
            null::varchar as details, timestamp '2025-03-01 10:00:00' as checked_at
    """)
    con.execute("""
        create table quality.quarantine as select 'b1' as batch_id, 'orders' as entity,
            '{"email": "jane@example.com", "phone": "+86 138 0013 8000"}' as raw_record, 'bad date' as reason
    """)
    if broken:
        # PostgreSQL text cannot hold a NUL byte: this COPY fails after the other tables loaded.
        con.execute("create table marts.zz_broken as select 'ok' as v union all select 'a' || chr(0) || 'b'")
    con.close()
    return path


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    base = tmp_path_factory.mktemp("pg_publish")
    return {
        "a": _make_warehouse(base / "a.duckdb", dim_rows=7),
        "b": _make_warehouse(base / "b.duckdb", dim_rows=12),
        "broken": _make_warehouse(base / "broken.duckdb", dim_rows=3, broken=True),
        "no_checks": _make_warehouse(base / "no_checks.duckdb", dim_rows=2, with_checks=False),
    }


@pytest.fixture(scope="module")
def database():
    name = f"salesdw_test_publish_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def url(database):
    # A password in the URL (ignored by trust auth) to prove it is never echoed.
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{database}"


def _pg_rows(url: str, table: str, columns: list[str]) -> list[tuple]:
    with psycopg.connect(url) as pg:
        cols = ", ".join(f'"{c}"' for c in columns)
        return pg.execute(f"select {cols} from {table} order by {cols}").fetchall()


def _duck_rows(warehouse: Path, table: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cur = con.execute(f"select * from {table}")
        columns = [d[0] for d in cur.description]
        cols = ", ".join(f'"{c}"' for c in columns)
        return columns, con.execute(f"select {cols} from {table} order by {cols}").fetchall()


PUBLISHED = ["marts.dim_customers", "marts.mart_team_kpi_monthly", "quality.ingestion_ledger", "quality.check_results"]


# ---------------------------------------------------------------- tests


def test_every_table_and_row_arrives_with_equal_values(warehouses, url, database, caplog):
    caplog.set_level(logging.DEBUG)
    summary = publish_to_postgres(warehouses["a"], url)  # also creates the missing database

    assert summary.database == database
    assert sorted(summary.tables) == sorted(PUBLISHED)
    assert summary.tables["marts.dim_customers"] == 7
    assert summary.tables["marts.mart_team_kpi_monthly"] == 3
    for table in PUBLISHED:
        columns, expected = _duck_rows(warehouses["a"], table)
        assert _pg_rows(url, table, columns) == expected, table
    # Spot values stated by hand, beyond "equal to DuckDB".
    assert _pg_rows(url, "marts.mart_team_kpi_monthly", ["team_id", "net_revenue", "opportunities_won"])[0] == (
        "T1",
        Decimal("-12.34"),
        9007199254740993,
    )
    names = {r[0] for r in _pg_rows(url, "marts.dim_customers", ["account_name"])}
    assert names == {'Acme, "the" best', "多行\nname", "", None, "plain"}  # '' stays '', NULL stays NULL

    with psycopg.connect(url) as pg:
        types = {
            f"{table}.{column}": f"{data_type}({precision},{scale})" if data_type == "numeric" else data_type
            for table, column, data_type, precision, scale in pg.execute(
                "select table_name, column_name, data_type, numeric_precision, numeric_scale"
                " from information_schema.columns where table_schema = 'marts'"
            ).fetchall()
        }
    assert types["dim_customers.lifetime_net_revenue"] == "numeric(18,2)"
    assert types["dim_customers.account_name"] == "text"
    assert types["dim_customers.lifetime_orders"] == "bigint"
    assert types["dim_customers.recency_days"] == "integer"
    assert types["dim_customers.first_order_date"] == "date"
    assert types["dim_customers.is_vip"] == "boolean"
    assert types["mart_team_kpi_monthly.win_rate"] == "double precision"
    assert types["mart_team_kpi_monthly.computed_at"] == "timestamp without time zone"

    assert PASSWORD not in caplog.text
    assert mask_url(url) in caplog.text


def test_quarantine_and_unlisted_schemas_are_never_published(warehouses, url):
    publish_to_postgres(warehouses["a"], url)
    with psycopg.connect(url) as pg:
        published = pg.execute("""
            select table_schema || '.' || table_name from information_schema.tables
            where table_schema not in ('pg_catalog', 'information_schema') order by 1
        """).fetchall()
    assert [r[0] for r in published] == sorted(PUBLISHED)
    with pytest.raises(ValueError, match="quarantine"):
        publish_to_postgres(warehouses["a"], url, quality_tables=("ingestion_ledger", "quarantine"))


def test_reader_role_reads_published_tables_only(warehouses, url):
    publish_to_postgres(warehouses["a"], url)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("create schema if not exists raw")
        admin.execute("create table if not exists raw.orders as select 'O1' as order_id, 'jane@example.com' as email")
    # Grants survive a second publish (the swap replaces every table).
    publish_to_postgres(warehouses["a"], url)

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("set role salesdw_reader")
        assert pg.execute("select count(*) from marts.dim_customers").fetchone() == (7,)
        assert pg.execute("select count(*) from quality.check_results").fetchone() == (1,)
        forbidden = [
            "select * from raw.orders",
            "insert into marts.dim_customers (account_id) values ('X')",
            "create table marts.mine (x int)",
            "create table public.mine (x int)",
            "create schema mine",
            "drop table marts.dim_customers",
        ]
        for statement in forbidden:
            with pytest.raises(errors.InsufficientPrivilege):
                pg.execute(statement)
        role = pg.execute("select rolcanlogin from pg_roles where rolname = 'salesdw_reader'").fetchone()
    assert role == (False,)  # NOLOGIN: people log in as their own roles, granted this one


HANG_GUARD = 300  # seconds: only a guard against a hang, never an expected duration


def test_concurrent_reader_never_sees_an_error_during_repeated_publishes(warehouses, url):
    publish_to_postgres(warehouses["a"], url)
    publish_errors: list[BaseException] = []
    progress = threading.Condition()
    reads = 0

    def publish_repeatedly():
        try:
            for source in ("b", "a", "b", "a", "b"):
                publish_to_postgres(warehouses[source], url)
                with progress:  # the reader reads each publish's result before the next swap
                    mark = reads
                    assert progress.wait_for(lambda: reads > mark, timeout=HANG_GUARD), "the reader stopped"
        except BaseException as exc:  # surfaced in the main thread
            publish_errors.append(exc)

    publisher = threading.Thread(target=publish_repeatedly)
    reader_errors: list[Exception] = []
    seen: set[int] = set()
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("set role salesdw_reader")
        publisher.start()
        # reads all through the publishes (also during each swap), until the last one is done
        while publisher.is_alive():
            try:
                seen.add(pg.execute("select count(*) from marts.dim_customers").fetchone()[0])
            except psycopg.Error as exc:
                reader_errors.append(exc)
            with progress:
                reads += 1
                progress.notify_all()
    publisher.join(timeout=HANG_GUARD)

    assert not publisher.is_alive()
    assert publish_errors == []
    assert reader_errors == []
    assert reads > 5  # at least one after each publish
    assert seen == {7, 12}  # a read after each publish saw it whole: never a half-swapped table
    assert _pg_rows(url, "marts.dim_customers", ["account_id"])[-1] == ("A011",)  # last publish: b


def test_failed_publish_leaves_the_previous_one_intact(warehouses, url):
    publish_to_postgres(warehouses["b"], url)
    with pytest.raises(PublishError) as failure:
        publish_to_postgres(warehouses["broken"], url)
    assert PASSWORD not in str(failure.value)
    assert "***" in str(failure.value)

    columns, expected = _duck_rows(warehouses["b"], "marts.dim_customers")
    assert _pg_rows(url, "marts.dim_customers", columns) == expected
    with psycopg.connect(url) as pg:
        schemas = {r[0] for r in pg.execute("select nspname from pg_namespace").fetchall()}
        tables = {
            r[0]
            for r in pg.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    assert not any("__staging_" in s or "__old_" in s for s in schemas)
    assert tables == {"dim_customers", "mart_team_kpi_monthly"}


def test_missing_database_is_created_and_missing_check_results_skipped(warehouses):
    name = f"salesdw_test_create_{uuid.uuid4().hex[:10]}"
    try:
        summary = publish_to_postgres(warehouses["no_checks"], f"{SERVER}/{name}")
        assert summary.database == name
        assert summary.skipped == ("quality.check_results",)
        assert sorted(summary.tables) == [
            "marts.dim_customers",
            "marts.mart_team_kpi_monthly",
            "quality.ingestion_ledger",
        ]
        assert _pg_rows(f"{SERVER}/{name}", "quality.ingestion_ledger", ["rows_read", "rows_loaded"]) == [(10, 9)]
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_unreachable_server_error_masks_the_password(warehouses):
    with pytest.raises(PublishError) as failure:
        publish_to_postgres(warehouses["a"], f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x")
    assert PASSWORD not in str(failure.value)


def test_mask_url_hides_passwords_in_both_spellings():
    assert mask_url("postgresql://bi:pa:ss@db.local:5432/sales") == "postgresql://bi:***@db.local:5432/sales"
    assert mask_url("host=db password='x y' dbname=s") == "host=db password=*** dbname=s"
    assert mask_url("postgresql://bi@db.local/sales?password=pw") == "postgresql://bi@db.local/sales?password=***"
    assert mask_url("postgresql://bi@db.local/sales") == "postgresql://bi@db.local/sales"
