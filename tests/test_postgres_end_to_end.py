"""With SALESDW_POSTGRES_URL set, the demo run (tests/conftest.py) publishes every mart to
PostgreSQL: the same tables and rows as the published DuckDB file, readable by salesdw_reader."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from tests.conftest import require_postgres


@pytest.fixture(scope="module")
def published(demo_run):
    require_postgres()
    assert demo_run.postgres_url, "the demo run did not publish to PostgreSQL"
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        duck = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}
        revenue = con.execute("select sum(net_revenue) from marts.mart_rep_kpi_monthly").fetchone()[0]
    return demo_run.postgres_url, duck, revenue


def test_every_mart_arrives_with_all_rows(published):
    url, duck_counts, revenue = published
    with psycopg.connect(url) as pg:
        pg_tables = {
            r[0] for r in pg.execute("select table_name from information_schema.tables where table_schema = 'marts'")
        }
        assert pg_tables == set(duck_counts)
        for table, rows in duck_counts.items():
            assert pg.execute(f"select count(*) from marts.{table}").fetchone()[0] == rows, table
        assert pg.execute("select sum(net_revenue) from marts.mart_rep_kpi_monthly").fetchone()[0] == revenue
        published_quality = {
            r[0] for r in pg.execute("select table_name from information_schema.tables where table_schema = 'quality'")
        }
    assert published_quality == {"ingestion_ledger", "check_results"}  # never the quarantine


def test_reader_role_reads_marts_and_nothing_else(published):
    url, duck_counts, _ = published
    with psycopg.connect(url) as pg:
        pg.execute("set role salesdw_reader")
        assert (
            pg.execute("select count(*) from marts.fct_opportunities").fetchone()[0] == duck_counts["fct_opportunities"]
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg.execute("create table marts.intruder (x int)")
