"""docs/connections.md, run where a client can run here: the documented first query through the
duckdb-engine (SQLAlchemy) read-only URI on the session's published demo file, and through
PostgreSQL as a login role that is only a member of salesdw_reader. Both must give the win rate
from the summed parts, computed here independently from the mart, and both must refuse writes."""

from __future__ import annotations

import os
import re

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.conftest import REPO, require_postgres

GUIDE = REPO / "docs" / "connections.md"


def _first_query() -> str:
    blocks = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    query = next(b for b in blocks if "from marts." in b)
    return query


def _expected(warehouse) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        team = con.execute(
            "select team_id, net_revenue, opportunities_won, opportunities_closed from marts.mart_team_kpi_monthly"
        ).df()
    sums = team.groupby("team_id").sum(numeric_only=True)
    sums["win_rate"] = sums["opportunities_won"] / sums["opportunities_closed"].where(sums["opportunities_closed"] != 0)
    return sums


def _assert_answers(rows, expected: pd.DataFrame) -> None:
    assert [r[0] for r in rows] == sorted(expected.index) and rows
    for team_id, net_revenue, won, closed, win_rate in rows:
        want = expected.loc[team_id]
        assert float(net_revenue) == pytest.approx(float(want["net_revenue"]), abs=0.01)
        assert (won, closed) == (want["opportunities_won"], want["opportunities_closed"])
        assert win_rate == pytest.approx(want["win_rate"], rel=1e-12)


def test_duckdb_engine_read_only_uri_runs_the_first_query(demo_run):
    assert demo_run.exit_code == 0, demo_run.output
    uri = f"duckdb:///{demo_run.warehouse.resolve()}?access_mode=read_only"  # the documented form
    assert uri.startswith("duckdb:////")
    expected = _expected(demo_run.warehouse)  # before: DuckDB refuses a second, differently configured handle
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as con:
            _assert_answers(con.execute(sa.text(_first_query())).fetchall(), expected)
            with pytest.raises(sa.exc.DBAPIError, match="read-only|read only|Cannot execute"):
                con.execute(sa.text("create table marts.mine as select 1 as x"))
    finally:
        engine.dispose()


def test_postgres_reader_login_runs_the_first_query_and_cannot_write(demo_run):
    require_postgres()
    if demo_run.postgres_url is None:
        pytest.fail("the demo run did not publish to the reachable PostgreSQL server")
    login = f"salesdw_bi_test_{os.getpid()}"
    admin = sa.create_engine(
        demo_run.postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as con:
        con.execute(sa.text(f'drop role if exists "{login}"'))
        con.execute(sa.text(f'create role "{login}" login'))
        con.execute(sa.text(f'grant salesdw_reader to "{login}"'))
    base, database = demo_run.postgres_url.rsplit("/", 1)
    host = base.split("@", 1)[1]
    bi = sa.create_engine(f"postgresql+psycopg://{login}@{host}/{database}")
    try:
        with bi.connect() as con:
            _assert_answers(con.execute(sa.text(_first_query())).fetchall(), _expected(demo_run.warehouse))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                con.execute(sa.text("create table marts.mine (x int)"))
    finally:
        bi.dispose()
        with admin.connect() as con:
            con.execute(sa.text(f'drop role if exists "{login}"'))
        admin.dispose()
