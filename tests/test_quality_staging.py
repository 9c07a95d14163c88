"""Staging suite: referential coverage, freshness, rates present (keys, required values and enums
are the staging models' dbt contracts: tests/test_dbt_contract.py).

One real dbt run builds the staging models of a clean fixture; the broken warehouse is a copy in
which stg_orders is replaced by a table holding the defects: an order of an unknown account, in a
currency without a rate (fx_rate NULL), stale against a later as_of_date.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from orchestration.quality import run_suite
from orchestration.quality.suites import load_suite
from orchestration.settings import get_settings
from tests.quality_support import assert_the_audit_refuses_the_publish, copy_warehouse
from tests.support import build_warehouse, write_raw_batch


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("staging")
    raw = data_dir / "raw"
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": "A1", "account_name": "Acme", "created_at": "2025-01-02 09:00:00"},
            {"account_id": "A2", "account_name": "Globex", "created_at": "2025-01-03 09:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-10", "status": "completed"},
            {"order_id": "O2", "account_id": "A2", "order_date": "2025-01-20", "status": "cancelled"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": "O1", "line_number": 1, "product_id": "P1", "quantity": "2", "unit_price": "100"},
            {"order_id": "O1", "line_number": 2, "product_id": "P2", "quantity": "1", "unit_price": "50"},
        ],
    )
    write_raw_batch(raw, "reps", [{"rep_id": "R1", "team_id": "T1", "status": "active"}])
    write_raw_batch(
        raw,
        "opportunities",
        [
            {"opportunity_id": "OP1", "owner_rep_id": "R1", "stage": "proposal", "created_at": "2025-01-05 10:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "activities",
        [
            {"activity_id": "AC1", "rep_id": "R1", "activity_type": "call", "occurred_at": "2025-01-25 10:00:00"},
        ],
    )
    clean = build_warehouse(data_dir, select="staging int_calendar", command="run")
    broken = copy_warehouse(clean, data_dir / "broken" / "build.duckdb")
    with duckdb.connect(str(broken)) as con:
        con.execute("create table staging.stg_orders_defects as select * from staging.stg_orders")
        con.execute("""insert into staging.stg_orders_defects (order_id, account_id, order_date, status, currency)
                       values ('O1', 'A1', date '2025-01-10', 'completed', null),
                              ('O3', 'A404', date '2025-01-21', 'completed', 'EUR')""")
        con.execute("drop table staging.stg_orders")  # a table: macros/stored_staging.sql
        con.execute("alter table staging.stg_orders_defects rename to stg_orders")
    quality = data_dir / "quality"
    return {
        "data_dir": data_dir,
        "broken_build": broken,
        "clean": run_suite("staging", clean, run_id="clean", quality_dir=quality),
        # as_of_date given: five months after the newest order
        "broken": run_suite("staging", broken, run_id="broken", quality_dir=quality, as_of_date=date(2025, 6, 30)),
    }


def _result(results, asset, check):
    [match] = [r for r in results if r.asset == asset and r.check_name == check]
    return match


def test_clean_staging_passes_every_check(runs):
    assert [(r.asset, r.check_name, r.observed_value) for r in runs["clean"] if not r.passed] == []
    assert len(runs["clean"]) == len(load_suite("staging"))
    # as_of_date from int_calendar: the call of 2025-01-25; newest order 2025-01-20
    assert _result(runs["clean"], "staging/stg_orders", "orders_fresh").observed_value == "order_date: 2025-01-20"
    assert _result(runs["clean"], "staging/stg_order_lines", "order_coverage").passed


def test_the_broken_staging_build_refuses_the_publish(runs):
    settings = get_settings(runs["data_dir"])  # today's build: the broken one the suite audited
    copy_warehouse(runs["broken_build"], settings.build_warehouse)
    assert_the_audit_refuses_the_publish(runs["data_dir"], "broken", "staging/stg_fx_rates:fx_rate_present")


def test_orders_of_unknown_accounts_below_threshold_warn(runs):
    result = _result(runs["broken"], "staging/stg_orders", "account_coverage")
    # 1 of 4 orders (25%) points to no account; at most 5% may
    assert (result.passed, result.severity, result.observed_value) == (False, "warn", "account_reference: 1 of 4 rows")
    assert not result.blocking


def test_stale_orders_warn_against_the_given_as_of_date(runs):
    result = _result(runs["broken"], "staging/stg_orders", "orders_fresh")
    # floor = 2025-06-30 - 31 days = 2025-05-30; newest order is 2025-01-21
    assert (result.passed, result.severity, result.observed_value) == (False, "warn", "order_date: 2025-01-21")
    assert result.details == "order_date: min_value 2025-05-30; as_of_date 2025-06-30 (given)"


def test_an_order_in_a_currency_without_a_rate_fails_and_names_it(runs):
    result = _result(runs["broken"], "staging/stg_fx_rates", "fx_rate_present")
    # O3: EUR, January 2025, no EUR rate in the fixture
    assert (result.passed, result.severity) == (False, "error")
    assert "EUR 2025-01: 1 orders without a rate" in result.details
