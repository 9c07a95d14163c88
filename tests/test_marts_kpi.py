"""KPI and budget marts (marts.md mart_rep_kpi_monthly, mart_team_kpi_monthly, mart_budget_vs_actual)
on a hand-made fixture: two teams, three reps (R2 left in February, R3 was hired mid-February),
January to March 2025. Every expected value is worked out by hand in the comments.

Reps:  R1 Ann  T1  region empty (-> team's North)  hired 2024-06-01, still employed
       R2 Bob  T1  region East                      hired 2024-01-15, left 2025-02-20
       R3 Cid  T2  region empty (-> team's South)   hired 2025-02-10
as_of_date = 2025-03-28 (order O8, the latest event); first month of data = 2025-01 (P1 created
2025-01-03). Rep spans: R1 Jan-Mar, R2 Jan-Feb (+ Mar for a refund after leaving), R3 Feb-Mar.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from ingestion.raw_zone import expose_file
from orchestration.settings import get_settings
from tests.support import dbt, query, write_raw_batch

KPI_MARTS = ("mart_rep_kpi_monthly", "mart_team_kpi_monthly", "mart_budget_vs_actual")
KPI_MODELS = KPI_MARTS + (
    "int_rep_sales_monthly",
    "int_rep_opportunities_monthly",
    "int_rep_activities_monthly",
    "int_rep_surveys_monthly",
    "int_rep_complaints_monthly",
    "int_rep_monthly",
)
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("kpi")
    raw = data_dir / "raw"
    write_raw_batch(
        raw,
        "teams",
        [
            {"team_id": "T1", "team_name": "North team", "region": "North"},
            {"team_id": "T2", "team_name": "South team", "region": "South"},
        ],
    )
    write_raw_batch(
        raw,
        "reps",
        [
            {"rep_id": "R1", "rep_name": "Ann", "team_id": "T1", "hire_date": "2024-06-01", "status": "active"},
            {
                "rep_id": "R2",
                "rep_name": "Bob",
                "team_id": "T1",
                "region": "East",
                "hire_date": "2024-01-15",
                "end_date": "2025-02-20",
                "status": "inactive",
            },
            {"rep_id": "R3", "rep_name": "Cid", "team_id": "T2", "hire_date": "2025-02-10", "status": "active"},
        ],
    )
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": "A1", "account_name": "Alpha", "owner_rep_id": "R1", "created_at": "2024-12-01 00:00:00"},
            {"account_id": "A2", "account_name": "Beta", "owner_rep_id": "R2", "created_at": "2024-12-01 00:00:00"},
            {"account_id": "A3", "account_name": "Gamma", "owner_rep_id": "R3", "created_at": "2025-02-15 00:00:00"},
            {"account_id": "A4", "account_name": "Delta", "owner_rep_id": "R1", "created_at": "2025-01-02 00:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "rep_id": "R1", "order_date": "2025-01-05", "status": "completed"},
            # no rep on the order -> the account owner R2
            {"order_id": "O2", "account_id": "A2", "order_date": "2025-01-20", "status": "completed"},
            # sold by R2 to R1's account: the order's rep wins
            {"order_id": "O3", "account_id": "A1", "rep_id": "R2", "order_date": "2025-02-03", "status": "completed"},
            {"order_id": "O4", "account_id": "A3", "rep_id": "R3", "order_date": "2025-02-20", "status": "completed"},
            {"order_id": "O5", "account_id": "A4", "rep_id": "R1", "order_date": "2025-03-01", "status": "cancelled"},
            {"order_id": "O6", "account_id": "A4", "rep_id": "R1", "order_date": "2025-03-10", "status": "pending"},
            {"order_id": "O7", "account_id": "A4", "order_date": "2025-03-15", "status": "completed"},
            {"order_id": "O8", "account_id": "A1", "rep_id": "R1", "order_date": "2025-03-28", "status": "completed"},
            # R9 is missing from the rep export (late-arriving reference): its sale must not fall out
            {"order_id": "O9", "account_id": "A2", "rep_id": "R9", "order_date": "2025-03-12", "status": "completed"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            # O1 = 2*100 - 10 + 1*50 = 240, 3 units
            {
                "order_id": "O1",
                "line_number": 1,
                "product_id": "PR1",
                "quantity": 2,
                "unit_price": "100.00",
                "discount_amount": "10.00",
            },
            {"order_id": "O1", "line_number": 2, "product_id": "PR2", "quantity": 1, "unit_price": "50.00"},
            {
                "order_id": "O2",
                "line_number": 1,
                "product_id": "PR1",
                "quantity": 1,
                "unit_price": "300.00",
                "discount_amount": "0",
            },
            {"order_id": "O3", "line_number": 1, "product_id": "PR2", "quantity": 4, "unit_price": "25.00"},
            # O4 = 3*40.50 - 1.50 = 120
            {
                "order_id": "O4",
                "line_number": 1,
                "product_id": "PR2",
                "quantity": 3,
                "unit_price": "40.50",
                "discount_amount": "1.50",
            },
            {"order_id": "O5", "line_number": 1, "product_id": "PR1", "quantity": 10, "unit_price": "10.00"},
            {"order_id": "O6", "line_number": 1, "product_id": "PR1", "quantity": 10, "unit_price": "10.00"},
            {"order_id": "O7", "line_number": 1, "product_id": "PR1", "quantity": 1, "unit_price": "80.00"},
            {"order_id": "O8", "line_number": 1, "product_id": "PR2", "quantity": 2, "unit_price": "30.00"},
            {"order_id": "O9", "line_number": 1, "product_id": "PR2", "quantity": 1, "unit_price": "10.00"},
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [
            # O2 is R2's January order, returned in March after R2 left
            {"return_id": "X1", "order_id": "O2", "return_date": "2025-03-05", "refund_amount": "100.00"},
            # on a cancelled order: not a refund of a sale
            {"return_id": "X2", "order_id": "O5", "return_date": "2025-03-06", "refund_amount": "50.00"},
            {"return_id": "X3", "order_id": "O1", "return_date": "2025-01-25", "refund_amount": "40.00"},
        ],
    )
    write_raw_batch(
        raw,
        "opportunities",
        [
            # cycle = Jan 3 -> Feb 10 = 38 days
            {
                "opportunity_id": "P1",
                "owner_rep_id": "R1",
                "stage": "closed_won",
                "created_at": "2025-01-03 10:00:00",
                "close_date": "2025-02-10",
                "amount": "1000.00",
            },
            {
                "opportunity_id": "P2",
                "owner_rep_id": "R1",
                "stage": "closed_lost",
                "created_at": "2025-01-04 10:00:00",
                "close_date": "2025-02-12",
                "amount": "0",
            },
            {
                "opportunity_id": "P3",
                "owner_rep_id": "R1",
                "stage": "closed_lost",
                "created_at": "2025-01-10 10:00:00",
                "close_date": "2025-02-15",
            },
            {
                "opportunity_id": "P4",
                "owner_rep_id": "R2",
                "stage": "proposal",
                "created_at": "2025-01-15 10:00:00",
                "close_date": "2025-04-30",
                "amount": "500.00",
            },
            # cycle = Feb 12 -> Mar 14 = 30 days
            {
                "opportunity_id": "P5",
                "owner_rep_id": "R3",
                "stage": "closed_won",
                "created_at": "2025-02-12 10:00:00",
                "close_date": "2025-03-14",
                "amount": "2000.00",
            },
            {
                "opportunity_id": "P6",
                "owner_rep_id": "R3",
                "stage": "negotiation",
                "created_at": "2025-03-01 10:00:00",
                "amount": "700.00",
            },
            {"opportunity_id": "P7", "owner_rep_id": "R9", "stage": "prospecting", "created_at": "2025-03-05 10:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "activities",
        [
            {
                "activity_id": "AC1",
                "rep_id": "R1",
                "activity_type": "call",
                "direction": "outbound",
                "occurred_at": "2025-01-07 09:00:00",
            },
            {"activity_id": "AC2", "rep_id": "R1", "activity_type": "visit", "occurred_at": "2025-01-08 09:00:00"},
            {"activity_id": "AC3", "rep_id": "R1", "activity_type": "visit", "occurred_at": "2025-03-02 09:00:00"},
            {
                "activity_id": "AC4",
                "rep_id": "R2",
                "activity_type": "email",
                "direction": "outbound",
                "occurred_at": "2025-01-09 09:00:00",
            },
            # answered after 2.5 h and 0.5 h; the third never
            {
                "activity_id": "AC5",
                "rep_id": "R2",
                "activity_type": "email",
                "direction": "inbound",
                "occurred_at": "2025-01-10 09:00:00",
                "responded_at": "2025-01-10 11:30:00",
            },
            {
                "activity_id": "AC6",
                "rep_id": "R2",
                "activity_type": "email",
                "direction": "inbound",
                "occurred_at": "2025-01-11 09:00:00",
                "responded_at": "2025-01-11 09:30:00",
            },
            {
                "activity_id": "AC7",
                "rep_id": "R2",
                "activity_type": "email",
                "direction": "inbound",
                "occurred_at": "2025-01-12 09:00:00",
            },
            {"activity_id": "AC8", "rep_id": "R3", "activity_type": "demo", "occurred_at": "2025-02-25 09:00:00"},
            {"activity_id": "AC9", "rep_id": "R3", "activity_type": "meeting", "occurred_at": "2025-03-05 09:00:00"},
            {"activity_id": "AC10", "rep_id": "R3", "activity_type": "visit", "occurred_at": "2025-03-06 09:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "survey_responses",
        [
            {
                "response_id": "S1",
                "survey_type": "nps",
                "score": 10,
                "order_id": "O1",
                "submitted_at": "2025-01-26 10:00:00",
            },
            {
                "response_id": "S2",
                "survey_type": "nps",
                "score": 3,
                "account_id": "A2",
                "submitted_at": "2025-01-27 10:00:00",
            },
            # order O3 is R2's although account A1 is owned by R1
            {
                "response_id": "S3",
                "survey_type": "nps",
                "score": 9,
                "order_id": "O3",
                "account_id": "A1",
                "submitted_at": "2025-02-05 10:00:00",
            },
            {
                "response_id": "S4",
                "survey_type": "csat",
                "score": 5,
                "order_id": "O4",
                "submitted_at": "2025-02-22 10:00:00",
            },
            {
                "response_id": "S5",
                "survey_type": "csat",
                "score": 2,
                "account_id": "A3",
                "submitted_at": "2025-02-23 10:00:00",
            },
            # O7 has no rep -> its account A4's owner R1
            {
                "response_id": "S6",
                "survey_type": "nps",
                "score": 7,
                "order_id": "O7",
                "submitted_at": "2025-03-20 10:00:00",
            },
        ],
    )
    write_raw_batch(
        raw,
        "targets",
        [
            {"month": "2025-01-01", "metric": "net_revenue", "target_value": "400", "rep_id": "R1"},
            {"month": "2025-01-01", "metric": "visits", "target_value": "2", "rep_id": "R1"},
            {"month": "2025-03-01", "metric": "new_customers", "target_value": "0", "rep_id": "R1"},
            {"month": "2025-01-01", "metric": "net_revenue", "target_value": "0", "rep_id": "R2"},
            {"month": "2025-01-01", "metric": "net_revenue", "target_value": "1000", "team_id": "T1"},
            {"month": "2025-03-01", "metric": "visits", "target_value": "4", "team_id": "T2"},
        ],
    )
    write_raw_batch(
        raw,
        "budgets",
        [
            {"month": "2025-01-01", "team_id": "T1", "category": "travel", "budget_amount": "100"},
            {"month": "2025-02-01", "team_id": "T1", "category": "travel", "budget_amount": "100"},
            {"month": "2025-01-01", "team_id": "T2", "category": "marketing", "budget_amount": "500"},
        ],
    )
    write_raw_batch(
        raw,
        "expenses",
        [
            {"expense_id": "E1", "expense_date": "2025-01-10", "team_id": "T1", "category": "travel", "amount": "60"},
            {"expense_id": "E2", "expense_date": "2025-01-20", "team_id": "T1", "category": "travel", "amount": "50"},
            {
                "expense_id": "E3",
                "expense_date": "2025-02-05",
                "team_id": "T1",
                "category": "marketing",
                "amount": "40",
            },
            {
                "expense_id": "E4",
                "expense_date": "2025-03-03",
                "team_id": "T2",
                "category": "marketing",
                "amount": "30",
            },
        ],
    )
    # First every parent (seeds and models) without tests, which their owners run; then this
    # area's models with their unit tests, data tests and the reconciliation tests. "buildable"
    # keeps dbt's default (eager) selection from also running other marts' tests that merely touch
    # a selected parent (e.g. a relationship to int_teams) on marts this build never makes.
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    dbt(
        data_dir,
        "build",
        "--select",
        " ".join("+" + m for m in KPI_MARTS),
        "--exclude",
        " ".join(KPI_MODELS),
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
    )
    dbt(data_dir, "build", "--select", " ".join(KPI_MODELS), "--indirect-selection", "buildable")
    return settings.build_warehouse


def rows_by_key(warehouse, table, key_columns, columns):
    cols = ", ".join(key_columns + columns)
    result = query(warehouse, f"select {cols} from marts.{table}")
    return {tuple(r[: len(key_columns)]): dict(zip(columns, r[len(key_columns) :])) for r in result}


def test_rep_rows_span_employment_plus_months_with_facts(warehouse):
    keys = query(warehouse, "select rep_id, month from marts.mart_rep_kpi_monthly order by rep_id, month")
    assert keys == [
        ("R1", JAN),
        ("R1", FEB),
        ("R1", MAR),
        # R2 left in February; March exists only for the refund of O2
        ("R2", JAN),
        ("R2", FEB),
        ("R2", MAR),
        # R3 hired 2025-02-10
        ("R3", FEB),
        ("R3", MAR),
        # unknown to the rep export, present only where its facts are
        ("R9", MAR),
    ]
    attributes = query(
        warehouse, "select distinct rep_id, rep_name, team_id, region from marts.mart_rep_kpi_monthly order by rep_id"
    )
    assert attributes == [
        ("R1", "Ann", "T1", "North"),
        ("R2", "Bob", "T1", "East"),
        ("R3", "Cid", "T2", "South"),
        ("R9", None, None, None),
    ]


def test_rep_sales_refunds_and_customers(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_rep_kpi_monthly",
        ["rep_id", "month"],
        [
            "gross_revenue",
            "refunds_amount",
            "net_revenue",
            "orders_count",
            "units_sold",
            "active_customers",
            "new_customers",
        ],
    )
    D = Decimal
    # (gross, refunds, net, orders, units, active customers, new customers)
    expected = {
        # O1 240; refund X3 40 in January; A1 is new
        ("R1", JAN): (D("240"), D("40"), D("200"), 1, D("3"), 1, 1),
        ("R1", FEB): (D("0"), D("0"), D("0"), 0, D("0"), 0, 0),
        # O7 80 (no rep -> owner R1) + O8 60; A4 first completed order is O7 (O5/O6 not completed)
        ("R1", MAR): (D("140"), D("0"), D("140"), 2, D("3"), 2, 1),
        # O2 300 via the account owner; A2 new
        ("R2", JAN): (D("300"), D("0"), D("300"), 1, D("1"), 1, 1),
        # O3 100 to A1, which bought first from R1: not new
        ("R2", FEB): (D("100"), D("0"), D("100"), 1, D("4"), 1, 0),
        # refund X1 of O2 counted in the month of return; X2 is on a cancelled order
        ("R2", MAR): (D("0"), D("100"), D("-100"), 0, D("0"), 0, 0),
        ("R3", FEB): (D("120"), D("0"), D("120"), 1, D("3"), 1, 1),
        ("R3", MAR): (D("0"), D("0"), D("0"), 0, D("0"), 0, 0),
        # O9 to A2, which bought first from R2: not new
        ("R9", MAR): (D("10"), D("0"), D("10"), 1, D("1"), 1, 0),
    }
    assert {k: tuple(v.values()) for k, v in got.items()} == expected


def test_rep_opportunities_win_rate_and_cycle(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_rep_kpi_monthly",
        ["rep_id", "month"],
        [
            "opportunities_created",
            "opportunities_won",
            "opportunities_lost",
            "won_amount",
            "win_rate",
            "avg_deal_size",
            "avg_sales_cycle_days",
        ],
    )
    assert got[("R1", JAN)] == dict(
        opportunities_created=3,
        opportunities_won=0,
        opportunities_lost=0,
        won_amount=Decimal("0"),
        win_rate=None,
        avg_deal_size=None,
        avg_sales_cycle_days=None,
    )
    r1_feb = got[("R1", FEB)]
    # 1 won of 3 closed by count (the lost deals are worth 0, a value rate would say 100%)
    assert (r1_feb["opportunities_won"], r1_feb["opportunities_lost"]) == (1, 2)
    assert r1_feb["win_rate"] == pytest.approx(1 / 3)
    assert r1_feb["won_amount"] == Decimal("1000") and r1_feb["avg_deal_size"] == Decimal("1000")
    assert r1_feb["avg_sales_cycle_days"] == 38
    assert got[("R2", JAN)]["opportunities_created"] == 1
    assert got[("R3", FEB)]["opportunities_created"] == 1
    assert got[("R9", MAR)]["opportunities_created"] == 1
    r3_mar = got[("R3", MAR)]
    assert (
        r3_mar["opportunities_created"],
        r3_mar["opportunities_won"],
        r3_mar["win_rate"],
        r3_mar["avg_sales_cycle_days"],
    ) == (1, 1, 1.0, 30)


def test_rep_activities_and_surveys(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_rep_kpi_monthly",
        ["rep_id", "month"],
        [
            "calls",
            "visits",
            "meetings",
            "demos",
            "emails_sent",
            "inbound_emails",
            "inbound_emails_answered",
            "avg_email_response_hours",
            "nps_responses",
            "nps_promoters",
            "nps_detractors",
            "nps",
            "csat_responses",
            "csat_satisfied",
            "csat_rate",
        ],
    )
    r1_jan = got[("R1", JAN)]
    assert (r1_jan["calls"], r1_jan["visits"]) == (1, 1)
    # S1 promoter on O1: (1 - 0) / 1 * 100
    assert (r1_jan["nps_responses"], r1_jan["nps"]) == (1, 100.0)
    r2_jan = got[("R2", JAN)]
    # (2.5 h + 0.5 h) / 2 answered
    assert (r2_jan["emails_sent"], r2_jan["inbound_emails"], r2_jan["inbound_emails_answered"]) == (1, 3, 2)
    assert r2_jan["avg_email_response_hours"] == pytest.approx(1.5)
    # S2 detractor through the account owner
    assert (r2_jan["nps_detractors"], r2_jan["nps"]) == (1, -100.0)
    # S3 belongs to O3's rep R2, not to A1's owner R1
    assert (got[("R2", FEB)]["nps_promoters"], got[("R1", FEB)]["nps_responses"]) == (1, 0)
    r3_feb = got[("R3", FEB)]
    # S4 (5) satisfied, S5 (2) not: 1 / 2
    assert (r3_feb["demos"], r3_feb["csat_responses"], r3_feb["csat_satisfied"], r3_feb["csat_rate"]) == (1, 2, 1, 0.5)
    # S6 passive (7) on O7 -> A4's owner R1: nps (0 - 0) / 1 * 100 = 0
    assert (got[("R1", MAR)]["nps_responses"], got[("R1", MAR)]["nps"]) == (1, 0.0)
    r3_mar = got[("R3", MAR)]
    assert (r3_mar["meetings"], r3_mar["visits"], r3_mar["nps"], r3_mar["csat_rate"]) == (1, 1, None, None)


def test_rep_targets_attainment_and_growth(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_rep_kpi_monthly",
        ["rep_id", "month"],
        [
            "revenue_target",
            "revenue_attainment",
            "visits_target",
            "visits_attainment",
            "new_customers_target",
            "new_customers_attainment",
            "net_revenue_prev_month",
            "revenue_growth_mom",
            "net_revenue_prev_year",
            "revenue_growth_yoy",
        ],
    )
    r1_jan = got[("R1", JAN)]
    # 200 / 400 and 1 visit / 2; no earlier row -> growth NULL
    assert (r1_jan["revenue_target"], r1_jan["revenue_attainment"]) == (Decimal("400"), 0.5)
    assert (r1_jan["visits_target"], r1_jan["visits_attainment"]) == (Decimal("2"), 0.5)
    assert (r1_jan["net_revenue_prev_month"], r1_jan["revenue_growth_mom"]) == (None, None)
    # target 0 -> attainment NULL (R1 March new customers, R2 January revenue)
    assert (got[("R1", MAR)]["new_customers_target"], got[("R1", MAR)]["new_customers_attainment"]) == (
        Decimal("0"),
        None,
    )
    assert got[("R2", JAN)]["revenue_attainment"] is None
    # R1 Feb: 0 / 200 - 1 = -1; R1 Mar: previous month is 0 -> NULL
    assert (got[("R1", FEB)]["net_revenue_prev_month"], got[("R1", FEB)]["revenue_growth_mom"]) == (
        Decimal("200"),
        -1.0,
    )
    assert (got[("R1", MAR)]["net_revenue_prev_month"], got[("R1", MAR)]["revenue_growth_mom"]) == (Decimal("0"), None)
    # R2 Mar: -100 / 100 - 1 = -2; no data a year earlier
    assert got[("R2", MAR)]["revenue_growth_mom"] == -2.0
    assert all(v["net_revenue_prev_year"] is None and v["revenue_growth_yoy"] is None for v in got.values())


def test_team_sums_current_reps_and_recomputes_ratios(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_team_kpi_monthly",
        ["team_id", "month"],
        [
            "team_name",
            "net_revenue",
            "orders_count",
            "new_customers",
            "opportunities_won",
            "opportunities_lost",
            "win_rate",
            "revenue_target",
            "revenue_attainment",
            "visits",
            "visits_target",
            "visits_attainment",
            "total_spend",
            "spend_to_revenue_ratio",
            "open_pipeline_start",
            "sales_velocity_per_day",
            "revenue_growth_mom",
        ],
    )
    assert sorted(got) == [("T1", JAN), ("T1", FEB), ("T1", MAR), ("T2", JAN), ("T2", FEB), ("T2", MAR)]
    t1_jan, t1_feb, t1_mar = got[("T1", JAN)], got[("T1", FEB)], got[("T1", MAR)]
    # T1 = R1 + R2 (R2 still counts in March: his current team is T1)
    assert [t1_jan["net_revenue"], t1_feb["net_revenue"], t1_mar["net_revenue"]] == [
        Decimal("500"),
        Decimal("100"),
        Decimal("40"),
    ]  # 200+300, 0+100, 140-100
    assert (t1_jan["orders_count"], t1_jan["new_customers"]) == (2, 2)
    # team target 1000 (not R1's 400 or R2's 0): 500 / 1000
    assert (t1_jan["revenue_target"], t1_jan["revenue_attainment"]) == (Decimal("1000"), 0.5)
    # spend E1 + E2 = 110 on net 500
    assert (t1_jan["total_spend"], t1_jan["spend_to_revenue_ratio"]) == (Decimal("110"), pytest.approx(0.22))
    assert t1_feb["total_spend"] == Decimal("40")
    # open on Feb 1: P1..P4 (created in January, none closed before Feb 1); on Mar 1 only P4
    assert [t1_jan["open_pipeline_start"], t1_feb["open_pipeline_start"], t1_mar["open_pipeline_start"]] == [0, 4, 1]
    # velocity Feb = 4 open x (1/3 win rate) x 1000 avg deal / 38 days
    assert t1_feb["win_rate"] == pytest.approx(1 / 3)
    assert t1_feb["sales_velocity_per_day"] == pytest.approx(4 * (1 / 3) * 1000 / 38)
    assert t1_mar["sales_velocity_per_day"] is None  # nothing closed in March: no win rate
    # growth: 100 / 500 - 1 and 40 / 100 - 1
    assert t1_feb["revenue_growth_mom"] == pytest.approx(-0.8)
    assert t1_mar["revenue_growth_mom"] == pytest.approx(-0.6)

    t2_jan, t2_mar = got[("T2", JAN)], got[("T2", MAR)]
    # T2 has a January row although R3 was hired in February: zero counts, NULL ratios
    assert (t2_jan["team_name"], t2_jan["net_revenue"], t2_jan["win_rate"], t2_jan["revenue_growth_mom"]) == (
        "South team",
        Decimal("0"),
        None,
        None,
    )
    # Mar 1: P5 (created Feb 12, won Mar 14) is open; P6 created on Mar 1 is not "before"
    assert t2_mar["open_pipeline_start"] == 1
    # 1 open x 1.0 win rate x 2000 / 30 days
    assert t2_mar["sales_velocity_per_day"] == pytest.approx(2000 / 30)
    # AC10 is R3's one visit in March against the team target of 4
    assert (t2_mar["visits"], t2_mar["visits_target"], t2_mar["visits_attainment"]) == (1, Decimal("4"), 0.25)
    assert (t2_mar["total_spend"], t2_mar["spend_to_revenue_ratio"]) == (Decimal("30"), None)  # net 0


def test_team_totals_reconcile_with_reps_and_staging(warehouse):
    # completed lines 240 + 300 + 100 + 120 + 80 + 60 + 10 = 910, minus refunds 100 + 40 = 770;
    # the teams hold all of it but R9's 10 (a rep without a known team)
    [(rep_total,)] = query(warehouse, "select sum(net_revenue) from marts.mart_rep_kpi_monthly")
    [(team_total,)] = query(warehouse, "select sum(net_revenue) from marts.mart_team_kpi_monthly")
    assert (rep_total, team_total) == (Decimal("770"), Decimal("760"))


def test_budget_vs_actual(warehouse):
    got = rows_by_key(
        warehouse,
        "mart_budget_vs_actual",
        ["month", "team_id", "category"],
        [
            "budget_amount",
            "actual_amount",
            "variance",
            "variance_pct",
            "utilization",
            "ytd_budget",
            "ytd_actual",
            "ytd_variance",
            "is_over_budget",
        ],
    )
    D = Decimal
    assert sorted(got) == [
        (JAN, "T1", "travel"),
        (JAN, "T2", "marketing"),
        (FEB, "T1", "marketing"),
        (FEB, "T1", "travel"),
        (MAR, "T2", "marketing"),
    ]
    # 60 + 50 = 110 against 100: +10 (10%), over the 5% tolerance
    assert got[(JAN, "T1", "travel")] == dict(
        budget_amount=D("100"),
        actual_amount=D("110"),
        variance=D("10"),
        variance_pct=pytest.approx(0.1),
        utilization=pytest.approx(1.1),
        ytd_budget=D("100"),
        ytd_actual=D("110"),
        ytd_variance=D("10"),
        is_over_budget=True,
    )
    # February travel: budget only; year to date 100 + 100 against 110
    assert got[(FEB, "T1", "travel")] == dict(
        budget_amount=D("100"),
        actual_amount=D("0"),
        variance=D("-100"),
        variance_pct=-1.0,
        utilization=0.0,
        ytd_budget=D("200"),
        ytd_actual=D("110"),
        ytd_variance=D("-90"),
        is_over_budget=False,
    )
    # spend without a budget: budget 0, ratios NULL, over budget
    assert got[(FEB, "T1", "marketing")] == dict(
        budget_amount=D("0"),
        actual_amount=D("40"),
        variance=D("40"),
        variance_pct=None,
        utilization=None,
        ytd_budget=D("0"),
        ytd_actual=D("40"),
        ytd_variance=D("40"),
        is_over_budget=True,
    )
    # T2 marketing: 500 budgeted in January, 30 spent in March -> ytd 500 / 30
    assert got[(MAR, "T2", "marketing")]["ytd_budget"] == D("500")
    assert got[(MAR, "T2", "marketing")]["ytd_actual"] == D("30")
    assert got[(JAN, "T2", "marketing")]["utilization"] == 0.0


# The models whose rows depend on the dbt var team_attribution, in build order.
ATTRIBUTION_MODELS = (
    ("intermediate", "int_rep_teams_monthly", "table"),
    ("intermediate", "int_rep_monthly", "table"),
    ("marts", "mart_rep_kpi_monthly", "table"),
    ("marts", "mart_team_kpi_monthly", "table"),
)


def test_current_attribution_equals_point_in_time_with_one_snapshot_per_entity(warehouse, tmp_path):
    """marts.md "Point in time": with a single snapshot per entity, team_attribution = current gives
    the marts row for row. Without a second dbt run (a full re-parse, ~20 s): a copy of this
    warehouse re-executes dbt's compiled SQL of the models that depend on the var, with the var's
    one literal (int_rep_teams_monthly renders it as '<value>' = 'current') set to current."""
    compiled = warehouse.parents[1] / "dbt_target" / "compiled" / "salesdw" / "models"
    copy = tmp_path / warehouse.name  # same file name: the compiled SQL names the catalog
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        for schema, model, kind in ATTRIBUTION_MODELS:
            sql = (compiled / schema / f"{model}.sql").read_text()
            if model == "int_rep_teams_monthly":
                assert sql.count("'point_in_time' = 'current'") == 1
                sql = sql.replace("'point_in_time' = 'current'", "'current' = 'current'")
            con.execute(f"create or replace {kind} {schema}.{model}__current as {sql}")
            con.execute(f"drop {kind} {schema}.{model}")
            con.execute(f"alter {kind} {schema}.{model}__current rename to {model}")
        con.execute(f"attach '{warehouse}' as built (read_only)")
        for schema, model, _ in ATTRIBUTION_MODELS:
            (rows,) = con.execute(f"select count(*) from {schema}.{model}").fetchone()
            assert rows > 0, model
            for a, b in (
                (f"{schema}.{model}", f"built.{schema}.{model}"),
                (f"built.{schema}.{model}", f"{schema}.{model}"),
            ):
                assert con.execute(f"select * from {a} except all select * from {b}").fetchall() == [], (model, a)
