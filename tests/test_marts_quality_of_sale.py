"""Quality of sale on the KPI marts (marts.md "The customer-treatment loop, quality of sale,
products"): complaints per rep, complaints per 100 orders, refund rate, CSAT/NPS targets with
attainment and gap, and a team's customers counted once. A hand-made fixture, January and
February 2025, every expected value worked out in the comments.

Teams T1 (reps R1, R2) and T2 (rep R3). Accounts A1 (owner R1), A2 (owner R2), A3 (owner R3).
The trap: in January R1 and R2, both of T1, sell to the same account A1; T1 counts A1 once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingestion.raw_zone import expose_file
from orchestration.settings import get_settings
from tests.support import dbt, query, write_raw_batch

JAN, FEB = date(2025, 1, 1), date(2025, 2, 1)
COLUMNS = [
    "orders_count",
    "gross_revenue",
    "refunds_amount",
    "active_customers",
    "new_customers",
    "complaints_opened",
    "complaints_per_100_orders",
    "refund_rate",
    "csat_rate",
    "csat_target",
    "csat_attainment",
    "nps",
    "nps_target",
    "nps_gap",
]


def _write_fixture(raw) -> None:
    write_raw_batch(
        raw,
        "teams",
        [
            {"team_id": "T1", "team_name": "North", "region": "North"},
            {"team_id": "T2", "team_name": "South", "region": "South"},
        ],
    )
    write_raw_batch(
        raw,
        "reps",
        [
            {"rep_id": rep, "rep_name": name, "team_id": team, "hire_date": "2024-01-01", "status": "active"}
            for rep, name, team in (("R1", "Ann", "T1"), ("R2", "Bob", "T1"), ("R3", "Cid", "T2"))
        ],
    )
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": acc, "account_name": acc, "owner_rep_id": rep, "created_at": "2024-06-01 00:00:00"}
            for acc, rep in (("A1", "R1"), ("A2", "R2"), ("A3", "R3"))
        ],
    )
    orders = [
        ("O1", "A1", "R1", "2025-01-05", "100.00"),
        ("O2", "A1", "R2", "2025-01-10", "200.00"),  # R2 sells to R1's account, same team
        ("O3", "A2", "R2", "2025-01-15", "300.00"),
        ("O4", "A1", "R1", "2025-02-03", "400.00"),
        ("O5", "A3", "R3", "2025-02-10", "500.00"),
    ]
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": o, "account_id": a, "rep_id": r, "order_date": d, "status": "completed"}
            for o, a, r, d, _ in orders
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": o, "line_number": 1, "product_id": "PR1", "quantity": 1, "unit_price": p}
            for o, _, _, _, p in orders
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [
            {"return_id": "X1", "order_id": "O3", "return_date": "2025-01-20", "refund_amount": "30.00"},
            {"return_id": "X2", "order_id": "O4", "return_date": "2025-02-10", "refund_amount": "100.00"},
        ],
    )
    write_raw_batch(
        raw,
        "cases",
        [
            {"case_id": "C1", "account_id": "A1", "category": "complaint", "opened_at": "2025-01-07 10:00:00"},
            {"case_id": "C2", "account_id": "A2", "category": "complaint", "opened_at": "2025-01-08 10:00:00"},
            {"case_id": "C3", "account_id": "A1", "category": "inquiry", "opened_at": "2025-01-09 10:00:00"},
            {"case_id": "C4", "account_id": "A2", "category": "complaint", "opened_at": "2025-02-01 10:00:00"},
            {"case_id": "C5", "account_id": "A3", "category": "complaint", "opened_at": "2025-02-09 10:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "survey_responses",
        [
            {
                "response_id": "S1",
                "survey_type": "csat",
                "score": 5,
                "order_id": "O1",
                "submitted_at": "2025-01-06 10:00:00",
            },
            {
                "response_id": "S2",
                "survey_type": "csat",
                "score": 3,
                "order_id": "O2",
                "submitted_at": "2025-01-11 10:00:00",
            },
            {
                "response_id": "S3",
                "survey_type": "nps",
                "score": 10,
                "order_id": "O3",
                "submitted_at": "2025-01-16 10:00:00",
            },
            {
                "response_id": "S4",
                "survey_type": "nps",
                "score": 5,
                "account_id": "A1",
                "submitted_at": "2025-01-20 10:00:00",
            },
        ],
    )
    write_raw_batch(
        raw,
        "targets",
        [
            {"month": "2025-01-01", "metric": "csat_rate", "target_value": "0.80", "rep_id": "R1"},
            {"month": "2025-01-01", "metric": "nps", "target_value": "20", "rep_id": "R1"},
            {"month": "2025-01-01", "metric": "csat_rate", "target_value": "0.50", "team_id": "T1"},
            {"month": "2025-01-01", "metric": "nps", "target_value": "50", "team_id": "T1"},
        ],
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("quality_of_sale")
    _write_fixture(data_dir / "raw")
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    dbt(
        data_dir,
        "build",
        "--select",
        "+mart_team_kpi_monthly",
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
    )
    return settings.build_warehouse


def _rows(warehouse, table: str, key: str) -> dict[tuple, dict]:
    result = query(warehouse, f"select {key}, month, {', '.join(COLUMNS)} from marts.{table}")
    return {(r[0], r[1]): dict(zip(COLUMNS, r[2:])) for r in result}


def test_team_counts_an_account_two_of_its_reps_serve_once(warehouse):
    reps, teams = (
        _rows(warehouse, "mart_rep_kpi_monthly", "rep_id"),
        _rows(warehouse, "mart_team_kpi_monthly", "team_id"),
    )
    # R1: A1 (new, first order O1); R2: A1 (O2, not new) and A2 (new)
    assert (reps["R1", JAN]["active_customers"], reps["R1", JAN]["new_customers"]) == (1, 1)
    assert (reps["R2", JAN]["active_customers"], reps["R2", JAN]["new_customers"]) == (2, 1)
    # T1 in January: {A1, A2} = 2, not the reps' 1 + 2 = 3
    assert (teams["T1", JAN]["active_customers"], teams["T1", JAN]["new_customers"]) == (2, 2)
    assert (teams["T1", FEB]["active_customers"], teams["T1", FEB]["new_customers"]) == (1, 0)
    assert (teams["T2", FEB]["active_customers"], teams["T2", FEB]["new_customers"]) == (1, 1)


def test_rep_quality_of_sale(warehouse):
    got = _rows(warehouse, "mart_rep_kpi_monthly", "rep_id")
    r1 = got["R1", JAN]
    # C1 on A1 -> R1; 1 complaint / 1 order x 100; no refund; CSAT S1 5 -> 1/1, / 0.80 = 1.25;
    # NPS S4 5 (A1's owner R1) -> -100, target 20 -> gap -120
    assert (r1["complaints_opened"], r1["complaints_per_100_orders"], r1["refund_rate"]) == (1, 100.0, 0.0)
    assert (r1["csat_rate"], r1["csat_target"], r1["nps"], r1["nps_target"]) == (1.0, Decimal("0.80"), -100.0, 20)
    assert r1["csat_attainment"] == pytest.approx(1.25) and r1["nps_gap"] == pytest.approx(-120)
    r2 = got["R2", JAN]
    # C2 on A2; 1 / 2 orders x 100 = 50; refund X1 30 / (200 + 300); S2 3 is not satisfied; no targets
    assert (r2["complaints_opened"], r2["complaints_per_100_orders"]) == (1, 50.0)
    assert r2["refund_rate"] == pytest.approx(30 / 500)
    assert (r2["csat_rate"], r2["csat_target"], r2["csat_attainment"], r2["nps"], r2["nps_gap"]) == (
        0.0,
        None,
        None,
        100.0,
        None,
    )
    # February: C4 on A2 while R2 sells nothing -> NULL per 100 orders; R1 refund X2 100 / 400
    assert (got["R2", FEB]["complaints_opened"], got["R2", FEB]["complaints_per_100_orders"]) == (1, None)
    assert got["R1", FEB]["refund_rate"] == pytest.approx(0.25)
    assert (got["R3", FEB]["complaints_opened"], got["R3", FEB]["complaints_per_100_orders"]) == (1, 100.0)


def test_team_quality_of_sale(warehouse):
    got = _rows(warehouse, "mart_team_kpi_monthly", "team_id")
    t1 = got["T1", JAN]
    # complaints C1 + C2 over orders O1-O3; refunds 30 / 600; CSAT 1 of 2 = 0.5 / team target 0.50;
    # NPS (1 promoter - 1 detractor) / 2 = 0, team target 50 (not R1's 20)
    assert (t1["complaints_opened"], t1["orders_count"]) == (2, 3)
    assert t1["complaints_per_100_orders"] == pytest.approx(200 / 3)
    assert t1["refund_rate"] == pytest.approx(0.05)
    assert (t1["csat_rate"], t1["csat_target"], t1["csat_attainment"]) == (0.5, Decimal("0.50"), 1.0)
    assert (t1["nps"], t1["nps_target"], t1["nps_gap"]) == (0.0, 50, -50.0)
    # T2 in January: zero-filled, every ratio NULL
    assert (
        got["T2", JAN]["complaints_opened"],
        got["T2", JAN]["complaints_per_100_orders"],
        got["T2", JAN]["refund_rate"],
    ) == (0, None, None)
    assert (got["T1", FEB]["complaints_opened"], got["T1", FEB]["complaints_per_100_orders"]) == (1, 100.0)
