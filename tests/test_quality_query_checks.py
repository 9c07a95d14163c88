"""A query check's SQL runs once per suite, and GX validates its rows (orchestration/quality/runner.py).

GX computes each metric of a query asset over the query itself; the runner computes the rows once
into a temporary table of GX's connection. These tests count the query's executions on a real
DuckDB file and check that the results, and the report of a query that fails, are those of GX
validating the query directly.
"""

from __future__ import annotations

import uuid

import duckdb
import pytest
import sqlalchemy as sa

from orchestration.quality import gx_duckdb, runner
from orchestration.quality.gx_startup import gx_context
from orchestration.quality.suites import ExpectationDef

# Four orders, one of them without a known account: 3 of 4 known.
COVERAGE = """
    select o.order_id, case when a.account_id is null then 'unknown' else 'known' end as account_reference
    from s.orders as o left join s.accounts as a on a.account_id = o.account_id
"""
IN_SET = ExpectationDef(
    "expect_column_values_to_be_in_set", {"column": "account_reference", "value_set": ["known"], "mostly": 0.5}
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("query_checks") / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema s")
        con.execute("create table s.accounts as select * from (values ('A1'), ('A2')) as t(account_id)")
        con.execute(
            "create table s.orders as select * from (values ('O1', 'A1'), ('O2', 'A2'), ('O3', 'A1'), ('O4', 'A9'))"
            " as t(order_id, account_id)"
        )
    return path


@pytest.fixture
def datasource(warehouse):
    context = gx_context()
    source = context.data_sources.add_sql(
        name=f"t_{uuid.uuid4().hex}",
        connection_string=f"duckdb:///{warehouse}",
        kwargs={"connect_args": {"read_only": True}},
    )
    yield source
    gx_duckdb.release(source)
    context.data_sources.delete(source.name)


@pytest.fixture
def statements():
    """The SQL statements sent to any engine while the test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def _validate(datasource, query: str, name: str = "source_0"):
    return runner._validate_source(datasource, name, query, True, [(0, 0, IN_SET)], {})[(0, 0)]


def _runs_of(statements: list[str]) -> int:
    """How many statements computed the query's join (as a whole, or as a subquery)."""
    return sum("left join s.accounts" in s for s in statements)


def test_the_query_runs_once_and_gx_validates_its_rows(datasource, statements):
    result = _validate(datasource, COVERAGE)
    assert _runs_of(statements) == 1
    assert result.success
    assert (result.result["element_count"], result.result["unexpected_count"]) == (4, 1)
    assert result.result["partial_unexpected_list"] == ["unknown"]


def test_gx_on_the_query_itself_runs_it_for_every_metric(datasource, statements, monkeypatch):
    """What the temporary table saves: without it GX runs the join once per metric, with the same result."""
    monkeypatch.setattr(runner, "_materialized", lambda source, name, query: query)
    result = _validate(datasource, COVERAGE)
    assert _runs_of(statements) >= 3
    assert (result.result["element_count"], result.result["unexpected_count"]) == (4, 1)


def test_a_query_that_fails_is_reported_by_gx_and_the_connection_stays_usable(datasource, statements):
    # fails while it runs (not when DuckDB binds it), which aborts DuckDB's transaction
    failing = "select cast('x' || order_id as integer) as account_reference from s.orders"
    assert runner._materialized(datasource, "source_0", failing) == failing
    assert runner._materialized(datasource, "source_1", COVERAGE) == "select * from temp.main.materialized_source_1"
    failed = _validate(datasource, failing, "source_2")
    assert not failed.success and "Could not convert string" in str(failed.exception_info)
    result = _validate(datasource, COVERAGE, "source_3")
    assert (result.result["element_count"], result.result["unexpected_count"]) == (4, 1)
