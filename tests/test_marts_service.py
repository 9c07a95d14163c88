"""mart_service_monthly and the shared intermediate models the other marts build on (int_months,
int_teams, int_reps, int_orders, int_order_lines, int_refunds), on one hand-made raw fixture and
one real dbt build. Expected values are worked out by hand in the comments.
"""

from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.support import build_warehouse, query, write_raw_batch

MODELS = "+mart_service_monthly +int_order_lines +int_refunds"
JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("service")
    raw = data_dir / "raw"
    write_raw_batch(
        raw,
        "teams",
        [
            {"team_id": "T1", "region": "East"},
            {"team_id": "T2", "region": "West"},
        ],
    )
    write_raw_batch(
        raw,
        "reps",
        [
            {"rep_id": "R1", "team_id": "T1", "hire_date": "2025-02-10"},
            {"rep_id": "R2", "team_id": "T2", "region": "North", "end_date": "2025-02-15"},
            {"rep_id": "R3", "team_id": "T9"},  # a team the team export lacks
        ],
    )
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": "A1", "account_name": "a1", "owner_rep_id": "R1", "created_at": "2024-01-01 00:00:00"},
            {"account_id": "A2", "account_name": "a2", "owner_rep_id": "R2", "created_at": "2024-01-01 00:00:00"},
            {"account_id": "A3", "account_name": "a3", "owner_rep_id": "R404", "created_at": "2024-01-01 00:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},
            {"order_id": "O2", "account_id": "A2", "rep_id": "R1", "order_date": "2025-02-01", "status": "completed"},
            {"order_id": "O3", "account_id": "A1", "order_date": "2025-02-02", "status": "cancelled"},
            {"order_id": "O4", "account_id": "A2", "order_date": "2025-03-20", "status": "completed"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {
                "order_id": "O1",
                "line_number": 1,
                "product_id": "P1",
                "quantity": "2",
                "unit_price": "10.50",
                "discount_amount": "1",
            },
            {"order_id": "O1", "line_number": 2, "product_id": "P2", "quantity": "1.5", "unit_price": "4"},
            {"order_id": "O2", "line_number": 1, "product_id": "P1", "quantity": "3", "unit_price": "100"},
            {"order_id": "O3", "line_number": 1, "product_id": "P1", "quantity": "1", "unit_price": "999"},
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [
            {"return_id": "X1", "order_id": "O1", "line_number": 1, "return_date": "2025-03-02", "refund_amount": "5"},
            {"return_id": "X2", "order_id": "O3", "return_date": "2025-03-03", "refund_amount": "999"},
        ],
    )
    write_raw_batch(
        raw,
        "activities",
        [
            {"activity_id": "V1", "rep_id": "R1", "activity_type": "visit", "occurred_at": "2025-03-31 09:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "cases",
        [
            # team T1 (account A1 owned by R1)
            {
                "case_id": "C1",
                "account_id": "A1",
                "category": "complaint",
                "opened_at": "2025-01-10 08:00:00",
                "first_response_at": "2025-01-10 20:00:00",
                "resolved_at": "2025-01-12 08:00:00",
            },
            {
                "case_id": "C2",
                "account_id": "A1",
                "category": "inquiry",
                "opened_at": "2025-01-20 00:00:00",
                "first_response_at": "2025-01-21 06:00:00",
                "resolved_at": "2025-02-03 00:00:00",
            },
            {
                "case_id": "C3",
                "account_id": "A1",
                "category": "technical",
                "opened_at": "2025-01-25 00:00:00",
                "first_response_at": "2025-01-25 01:00:00",
            },
            {
                "case_id": "C7",
                "account_id": "A1",
                "category": "inquiry",
                "opened_at": "2025-03-05 00:00:00",
                "first_response_at": "2025-03-06 00:00:00",
            },
            # team T2 (account A2 owned by R2), whoever the case's own owner is
            {
                "case_id": "C4",
                "account_id": "A2",
                "category": "complaint",
                "opened_at": "2025-03-30 12:00:00",
                "owner_rep_id": "R1",
            },
            {"case_id": "C5", "account_id": "A2", "category": "inquiry", "opened_at": "2025-03-31 06:00:00"},
            # account owner unknown: no team
            {"case_id": "C6", "account_id": "A3", "category": "complaint", "opened_at": "2025-03-01 00:00:00"},
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        # only the data tests of the selected models (others' marts are not built here)
        mp.setenv("DBT_INDIRECT_SELECTION", "cautious")
        return build_warehouse(data_dir, select=MODELS)


def test_calendar_months_and_teams(warehouse):
    # as_of: the visit of 2025-03-31 (case dates do not count); first month: O1 of 2025-01-05
    assert query(warehouse, "select as_of_date, now_ts from intermediate.int_calendar") == [
        (date(2025, 3, 31), datetime(2025, 4, 1))
    ]
    assert query(warehouse, "select month from intermediate.int_months order by 1") == [(JAN,), (FEB,), (MAR,)]
    assert query(warehouse, "select team_id, region from intermediate.int_teams order by 1") == [
        ("T1", "East"),
        ("T2", "West"),
        ("T9", None),
    ]


def test_int_reps_kpi_month_span(warehouse):
    assert query(
        warehouse,
        """
        select rep_id, team_id, region, first_kpi_month, last_kpi_month
        from intermediate.int_reps order by rep_id""",
    ) == [
        ("R1", "T1", "East", FEB, MAR),  # hired 2025-02-10; region from its team
        ("R2", "T2", "North", JAN, FEB),  # left 2025-02-15; own region
        ("R3", "T9", None, JAN, MAR),  # no dates: first month of data .. as_of month
    ]


def test_int_orders_and_lines(warehouse):
    d = Decimal
    assert query(
        warehouse,
        """
        select order_id, rep_id, order_month, net_amount, units from intermediate.int_orders
        order by order_id""",
    ) == [
        # no rep_id -> account owner R1; 2 x 10.50 - 1 = 20.00 and 1.5 x 4 = 6.00
        ("O1", "R1", JAN, d("26.00"), d("3.5000")),
        ("O2", "R1", FEB, d("300.00"), d("3.0000")),  # its own rep, not A2's owner
        ("O4", "R2", MAR, d("0.00"), d("0.0000")),  # no lines; the cancelled O3 is absent
    ]
    assert query(
        warehouse,
        """
        select order_id, line_number, rep_id, net_amount from intermediate.int_order_lines
        order by order_id, line_number""",
    ) == [("O1", 1, "R1", d("20.00")), ("O1", 2, "R1", d("6.00")), ("O2", 1, "R1", d("300.00"))]
    # the refund on the cancelled order O3 does not count
    assert query(warehouse, "select return_id, rep_id, return_month, refund_amount from intermediate.int_refunds") == [
        ("X1", "R1", MAR, d("5.00"))
    ]


def test_service_monthly(warehouse):
    rows = query(
        warehouse,
        """
        select team_id, month, cases_opened, complaints_opened, cases_resolved,
               median_first_response_hours, median_resolution_hours, first_response_breaches,
               first_response_breach_rate
        from marts.mart_service_monthly order by team_id, month""",
    )
    assert rows == [
        # C1 (12 h to respond, resolved after 48 h), C2 (30 h: breach), C3 (1 h):
        # median response of 1, 12, 30 = 12; breaches 1 of 3
        ("T1", JAN, 3, 1, 1, 12.0, 48.0, 1, 1 / 3),
        # C2 resolved 2025-02-03 00:00, 14 days = 336 h after opening; nothing opened
        ("T1", FEB, 0, 0, 1, None, 336.0, 0, None),
        # C7 answered after exactly 24 h: not later than the SLA
        ("T1", MAR, 1, 0, 0, 24.0, None, 0, 0.0),
        ("T2", JAN, 0, 0, 0, None, None, 0, None),
        ("T2", FEB, 0, 0, 0, None, None, 0, None),
        # now = 2025-04-01 00:00: C4 unanswered for 36 h (breach), C5 for 18 h (not yet)
        ("T2", MAR, 2, 1, 0, None, None, 1, 0.5),
        ("T9", JAN, 0, 0, 0, None, None, 0, None),
        ("T9", FEB, 0, 0, 0, None, None, 0, None),
        ("T9", MAR, 0, 0, 0, None, None, 0, None),
    ]
