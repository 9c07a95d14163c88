"""Customer marts (marts.md: dim_customers, fct_customer_lifecycle_monthly, mart_lifecycle_monthly)
on a hand-made company of twelve accounts, each designed to land in a known lifecycle stage.

as_of_date is derived from the data: the latest event is A12's order on 2025-06-15 (a refund dated
later is not an as_of event). The first month of data is 2024-01 (A09's order), so the spine has
18 months, 2024-01 .. 2025-06. The VIP share is set to 0.15 so that ceil() is visible:
9 accounts with revenue in the last 365 days -> ceil(1.35) = 2 VIP slots (round or floor give 1).

Completed orders (one line each, amount = net):
  A02 2024-07-01 10000, 2024-12-01 5000      top revenue, dormant since 2024-12-01 -> inactive
  A03 2025-05-01 8000                         new AND ranked 2nd -> vip (vip beats new)
  A04 2024-08-01 3000, 2025-01-10 2500, 2025-04-20 2500
                                              8000 too: ties A03, loses on account_id -> loyal
  A05 2025-04-01 500                          new
  A06 2024-09-01 100, 2025-02-01 100, 2025-06-01 100      3 orders in 365 days -> loyal
  A07 2024-03-01 1000, 2025-05-10 200         active
  A08 2024-05-01 2000, 2025-03-01 1000        refunds: 500 on 2025-02-01 (of the 2024 order,
                                              outside the 365-day window), 200 on 2025-04-01,
                                              300 on 2025-06-20 (after as_of: ignored) -> active
  A09 2024-01-15 400, 2025-06-10 600          inactive from 2024-07, reactivated in 2025-06
  A12 2025-06-15 50                           new (recency 0)
Prospects: A01 (only a cancelled order), A10 (created 2025-06-20, after as_of but in the as_of
month), A11 (created 2025-07-05: in dim_customers, not yet in the monthly fact).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from math import ceil

import pytest

from tests.support import build_warehouse, query, write_raw_batch

AS_OF = date(2025, 6, 15)
VARS = {"lifecycle_vip_share": 0.15}
ALL_STAGES = {"prospect", "new", "active", "loyal", "vip", "inactive"}

ACCOUNT_CREATED = {
    "A01": "2024-01-05",
    "A02": "2024-01-05",
    "A03": "2025-04-15",
    "A04": "2024-01-05",
    "A05": "2025-03-20",
    "A06": "2024-01-05",
    "A07": "2024-01-05",
    "A08": "2024-01-05",
    "A09": "2024-01-05",
    "A10": "2025-06-20",
    "A11": "2025-07-05",
    "A12": "2025-06-01",
}
# account -> owner rep; R1 is in team T1, R2 in team T2
OWNER = {a: ("R1" if int(a[1:]) % 2 else "R2") for a in ACCOUNT_CREATED}

ORDERS = [  # order_id, account_id, order_date, status, net amount
    ("O01", "A09", "2024-01-15", "completed", 400),
    ("O02", "A07", "2024-03-01", "completed", 1000),
    ("O03", "A08", "2024-05-01", "completed", 2000),
    ("O04", "A02", "2024-07-01", "completed", 10000),
    ("O05", "A04", "2024-08-01", "completed", 3000),
    ("O06", "A06", "2024-09-01", "completed", 100),
    ("O07", "A02", "2024-12-01", "completed", 5000),
    ("O08", "A04", "2025-01-10", "completed", 2500),
    ("O09", "A06", "2025-02-01", "completed", 100),
    ("O10", "A08", "2025-03-01", "completed", 1000),
    ("O11", "A01", "2025-03-01", "cancelled", 700),
    ("O12", "A05", "2025-04-01", "completed", 500),
    ("O13", "A04", "2025-04-20", "completed", 2500),
    ("O14", "A03", "2025-05-01", "completed", 8000),
    ("O15", "A07", "2025-05-10", "completed", 200),
    ("O16", "A06", "2025-06-01", "completed", 100),
    ("O17", "A09", "2025-06-10", "completed", 600),
    ("O18", "A12", "2025-06-15", "completed", 50),
]
RETURNS = [  # return_id, order_id, return_date, refund_amount
    ("RT1", "O03", "2025-02-01", 500),
    ("RT2", "O10", "2025-04-01", 200),
    ("RT3", "O10", "2025-06-20", 300),  # after as_of: counts nowhere
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("customers")
    raw = data_dir / "raw"
    write_raw_batch(raw, "teams", [{"team_id": "T1", "region": "North"}, {"team_id": "T2", "region": "South"}])
    write_raw_batch(
        raw,
        "reps",
        [
            {
                "rep_id": "R1",
                "rep_name": "Rita",
                "email": "rita@example.com",
                "team_id": "T1",
                "hire_date": "2023-01-01",
            },
            {
                "rep_id": "R2",
                "rep_name": "Ravi",
                "email": "ravi@example.com",
                "team_id": "T2",
                "hire_date": "2023-01-01",
            },
        ],
    )
    write_raw_batch(
        raw,
        "accounts",
        [
            {
                "account_id": a,
                "account_name": f"Account {a}",
                "industry": "retail",
                "region": "North",
                "city": "Hangzhou",
                "owner_rep_id": OWNER[a],
                "created_at": f"{created} 09:00:00",
            }
            for a, created in ACCOUNT_CREATED.items()
        ],
    )
    write_raw_batch(
        raw,
        "contacts",
        [
            {
                "contact_id": "C1",
                "account_id": "A03",
                "full_name": "Mei Lin",
                "email": "mei.lin@a03.example",
                "phone": "+86 138 0013 8000",
            },
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": o, "account_id": a, "order_date": d, "status": s, "rep_id": OWNER[a]}
            for o, a, d, s, _ in ORDERS
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": o, "line_number": 1, "product_id": "P1", "quantity": 1, "unit_price": amount}
            for o, _, _, _, amount in ORDERS
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [{"return_id": r, "order_id": o, "return_date": d, "refund_amount": amount} for r, o, d, amount in RETURNS],
    )
    write_raw_batch(
        raw,
        "survey_responses",
        [
            {
                "response_id": "S1",
                "survey_type": "nps",
                "submitted_at": "2025-05-02 10:00:00",
                "score": 9,
                "account_id": "A03",
            },
            {
                "response_id": "S2",
                "survey_type": "nps",
                "submitted_at": "2025-06-01 10:00:00",
                "score": 3,
                "account_id": "A03",
            },
            {
                "response_id": "S3",
                "survey_type": "nps",
                "submitted_at": "2025-01-05 10:00:00",
                "score": 8,
                "account_id": "A04",
            },
            {
                "response_id": "S4",
                "survey_type": "csat",
                "submitted_at": "2025-06-02 10:00:00",
                "score": 5,
                "account_id": "A04",
            },
            # no account_id: belongs to the account of its order (O12 -> A05)
            {
                "response_id": "S5",
                "survey_type": "nps",
                "submitted_at": "2025-04-10 10:00:00",
                "score": 10,
                "order_id": "O12",
            },
        ],
    )
    write_raw_batch(
        raw,
        "cases",
        [
            {
                "case_id": "K1",
                "account_id": "A04",
                "opened_at": "2025-05-01 09:00:00",
                "category": "inquiry",
                "resolved_at": "2025-05-03 09:00:00",
            },
            {"case_id": "K2", "account_id": "A04", "opened_at": "2025-06-10 09:00:00", "category": "complaint"},
            # resolved only after the as_of day ended: still open as of as_of
            {
                "case_id": "K3",
                "account_id": "A07",
                "opened_at": "2025-06-01 09:00:00",
                "category": "technical",
                "resolved_at": "2025-06-16 10:00:00",
            },
            # opened after as_of: does not exist yet
            {"case_id": "K4", "account_id": "A07", "opened_at": "2025-06-16 11:00:00", "category": "inquiry"},
        ],
    )
    # cautious: skip the other marts' tests that merely touch a staging model selected here
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_INDIRECT_SELECTION", "cautious")
        return build_warehouse(data_dir, select="+dim_customers +mart_lifecycle_monthly", vars=VARS)


def test_build_uses_the_derived_as_of_date(warehouse):
    assert query(warehouse, "select as_of_date, first_month from intermediate.int_calendar") == [
        (AS_OF, date(2024, 1, 1))
    ]


# ---------------------------------------------------------------------------------------------
# dim_customers, as of 2025-06-15
# ---------------------------------------------------------------------------------------------


def test_dim_customers_order_measures_and_lifecycle_stage(warehouse):
    rows = query(
        warehouse,
        """
        select account_id, first_order_date, last_order_date, lifetime_orders, lifetime_net_revenue,
               orders_365d, net_revenue_365d, recency_days, lifecycle_stage
        from marts.dim_customers order by account_id""",
    )
    d = date
    # the 365-day window is (2024-06-15, 2025-06-15]; recency = days from the last order to 2025-06-15
    assert rows == [
        ("A01", None, None, 0, Decimal("0.00"), 0, Decimal("0.00"), None, "prospect"),  # cancelled order only
        # last order 2024-12-01: 30+31+28+31+30+31+15 = 196 days > 180 -> inactive, though ranked 1st
        ("A02", d(2024, 7, 1), d(2024, 12, 1), 2, Decimal("15000.00"), 2, Decimal("15000.00"), 196, "inactive"),
        # 45 days since the first order (new), but rank 2 of 2 VIP slots -> vip
        ("A03", d(2025, 5, 1), d(2025, 5, 1), 1, Decimal("8000.00"), 1, Decimal("8000.00"), 45, "vip"),
        # 8000 like A03: rank 3 (A03 < A04) -> no slot; 3 orders in 365 days -> loyal
        ("A04", d(2024, 8, 1), d(2025, 4, 20), 3, Decimal("8000.00"), 3, Decimal("8000.00"), 56, "loyal"),
        ("A05", d(2025, 4, 1), d(2025, 4, 1), 1, Decimal("500.00"), 1, Decimal("500.00"), 75, "new"),  # 75 < 90
        ("A06", d(2024, 9, 1), d(2025, 6, 1), 3, Decimal("300.00"), 3, Decimal("300.00"), 14, "loyal"),
        # the 2024-03-01 order is outside the window
        ("A07", d(2024, 3, 1), d(2025, 5, 10), 2, Decimal("1200.00"), 1, Decimal("200.00"), 36, "active"),
        # lifetime 2000 + 1000 - 500 - 200 = 2300; 365 days: 1000 - 200 = 800 (the 500 refunds an
        # order outside the window, the 300 is dated after as_of)
        ("A08", d(2024, 5, 1), d(2025, 3, 1), 2, Decimal("2300.00"), 1, Decimal("800.00"), 106, "active"),
        ("A09", d(2024, 1, 15), d(2025, 6, 10), 2, Decimal("1000.00"), 1, Decimal("600.00"), 5, "active"),
        ("A10", None, None, 0, Decimal("0.00"), 0, Decimal("0.00"), None, "prospect"),
        ("A11", None, None, 0, Decimal("0.00"), 0, Decimal("0.00"), None, "prospect"),
        ("A12", d(2025, 6, 15), d(2025, 6, 15), 1, Decimal("50.00"), 1, Decimal("50.00"), 0, "new"),
    ]
    assert {row[-1] for row in rows} == ALL_STAGES


def test_dim_customers_rfm_scores(warehouse):
    rows = dict(
        (r[0], r[1:])
        for r in query(warehouse, "select account_id, r_score, f_score, m_score, rfm_code from marts.dim_customers")
    )
    # 9 customers with orders -> ntile(5) groups of 2, 2, 2, 2, 1.
    # r: recency descending A02 196, A08 106 | A05 75, A04 56 | A03 45, A07 36 | A06 14, A09 5 | A12 0
    # f: orders ascending, ties by id: A03 1, A05 1 | A12 1, A02 2 | A07 2, A08 2 | A09 2, A04 3 | A06 3
    # m: revenue ascending: A12 50, A06 300 | A05 500, A09 1000 | A07 1200, A08 2300 | A03 8000, A04 8000 | A02
    assert rows == {
        "A01": (None, None, None, None),
        "A02": (1, 2, 5, "125"),
        "A03": (3, 1, 4, "314"),
        "A04": (2, 4, 4, "244"),
        "A05": (2, 1, 2, "212"),
        "A06": (4, 5, 1, "451"),
        "A07": (3, 3, 3, "333"),
        "A08": (1, 3, 3, "133"),
        "A09": (4, 4, 2, "442"),
        "A10": (None, None, None, None),
        "A11": (None, None, None, None),
        "A12": (5, 2, 1, "521"),
    }


def test_dim_customers_account_owner_action_and_service(warehouse):
    rows = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            """
        select account_id, owner_rep_id, team_id, created_date, recommended_action, latest_nps_score, open_cases
        from marts.dim_customers""",
        )
    }
    assert rows["A03"] == (
        "R1",
        "T1",
        date(2025, 4, 15),
        "dedicated account service, regular visits and events",
        3,
        0,
    )  # latest NPS: 3 on 2025-06-01 (the 9 is older)
    # latest NPS 8 (the later CSAT 5 is not NPS); K2 open; K1 resolved before as_of
    assert rows["A04"] == ("R2", "T2", date(2024, 1, 5), "retain with loyalty offers and member benefits", 8, 1)
    # the NPS answer without account_id belongs to the account of its order O12
    assert rows["A05"][3:] == ("onboard with demos, trials and a tailored offer", 10, 0)
    # K3 resolved only on 2025-06-16 (after the as_of day): open; K4 opened after as_of: not counted
    assert rows["A07"][3:] == ("grow with cross-sell", None, 1)
    assert rows["A01"][3] == "nurture with campaigns, calls and e-mails toward a first purchase"
    assert rows["A02"][3] == "reactivate with a call-back and a personal offer"


def test_no_contact_email_or_phone_in_the_customer_marts(warehouse):
    tables = ["dim_customers", "fct_customer_lifecycle_monthly", "mart_lifecycle_monthly"]
    for table in tables:
        columns = [
            r[0]
            for r in query(
                warehouse,
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
                [table],
            )
        ]
        assert columns and not [c for c in columns if "mail" in c or "phone" in c], (table, columns)
        text = " ".join(str(v) for row in query(warehouse, f"select * from marts.{table}") for v in row)
        assert "@" not in text and "138 0013" not in text and "Mei Lin" not in text, table


# ---------------------------------------------------------------------------------------------
# fct_customer_lifecycle_monthly and mart_lifecycle_monthly
# ---------------------------------------------------------------------------------------------

MONTHS = [date(2024 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 19)]  # 2024-01 .. 2025-06


def _stages(warehouse, account_id):
    return [
        r[0]
        for r in query(
            warehouse,
            "select lifecycle_stage from marts.fct_customer_lifecycle_monthly where account_id = ? order by month",
            [account_id],
        )
    ]


def test_lifecycle_trajectories_by_hand(warehouse):
    # A09: alone with revenue in 2024-01/02 (1 candidate -> 1 VIP slot); 2024-03 A07 outranks it and
    # it is new (76 days); active from April (106 days); 2024-07-31 is 198 days after its order ->
    # inactive until the 2025-06-10 order brings it back (active: first order long ago, 1 order).
    assert _stages(warehouse, "A09") == ["vip", "vip", "new"] + ["active"] * 3 + ["inactive"] * 11 + ["active"]
    # A02: prospect until its 2024-07-01 order, then the top revenue (vip) until 2025-05-31,
    # 181 days after its last order (2024-12-01) -> inactive.
    assert _stages(warehouse, "A02") == ["prospect"] * 6 + ["vip"] * 10 + ["inactive"] * 2


def test_lifecycle_fact_rows_exist_from_account_creation(warehouse):
    counts = dict(query(warehouse, "select account_id, count(*) from marts.fct_customer_lifecycle_monthly group by 1"))
    assert counts == {
        "A01": 18,
        "A02": 18,
        "A04": 18,
        "A06": 18,
        "A07": 18,
        "A08": 18,
        "A09": 18,
        "A03": 3,  # created 2025-04-15
        "A05": 4,  # created 2025-03-20
        "A10": 1,  # created 2025-06-20, after as_of but by the end of the as_of month
        "A12": 1,  # created 2025-06-01
    }  # A11 (created 2025-07-05) has no row yet
    assert query(
        warehouse,
        "select previous_stage from marts.fct_customer_lifecycle_monthly where account_id = 'A03' order by month",
    ) == [(None,), ("prospect",), ("vip",)]


def test_lifecycle_fact_net_revenue_of_the_month(warehouse):
    rows = dict(
        query(
            warehouse,
            "select month, net_revenue from marts.fct_customer_lifecycle_monthly "
            "where account_id = 'A08' and net_revenue <> 0",
        )
    )
    # order 2000 in May 2024; refund 500 in Feb 2025; order 1000 in Mar 2025; refund 200 in Apr 2025;
    # the 300 refunded on 2025-06-20 is after as_of
    assert rows == {
        date(2024, 5, 1): Decimal("2000.00"),
        date(2025, 2, 1): Decimal("-500.00"),
        date(2025, 3, 1): Decimal("1000.00"),
        date(2025, 4, 1): Decimal("-200.00"),
    }


def test_mart_lifecycle_monthly_first_and_last_month(warehouse):
    rows = {
        (r[0], r[1]): r[2:]
        for r in query(
            warehouse,
            """
        select month, lifecycle_stage, customers, total_customers, share_of_customers, entered, exited,
               reactivated, net_revenue
        from marts.mart_lifecycle_monthly where month in ('2024-01-01', '2025-06-01')""",
        )
    }
    jan, jun = date(2024, 1, 1), date(2025, 6, 1)
    # January 2024: 7 accounts exist; A09 (order of 400) is the only customer and VIP; everyone entered.
    assert rows[(jan, "prospect")] == (6, 7, pytest.approx(6 / 7), 6, 0, None, Decimal("0.00"))
    assert rows[(jan, "vip")] == (1, 7, pytest.approx(1 / 7), 1, 0, 0, Decimal("400.00"))
    for stage in ("new", "active", "loyal"):
        assert rows[(jan, stage)] == (0, 7, 0.0, 0, 0, 0, Decimal("0.00"))
    assert rows[(jan, "inactive")] == (0, 7, 0.0, 0, 0, None, Decimal("0.00"))
    # June 2025: 11 accounts (A11 does not exist yet). May -> June moves:
    # A06 active -> loyal (3rd order in 365 days), A09 inactive -> active (reactivated),
    # A10 and A12 appear (prospect, new); everyone else stays.
    assert rows[(jun, "prospect")] == (2, 11, pytest.approx(2 / 11), 1, 0, None, Decimal("0.00"))
    assert rows[(jun, "inactive")] == (1, 11, pytest.approx(1 / 11), 0, 1, None, Decimal("0.00"))
    assert rows[(jun, "vip")] == (1, 11, pytest.approx(1 / 11), 0, 0, 0, Decimal("0.00"))
    assert rows[(jun, "new")] == (2, 11, pytest.approx(2 / 11), 1, 0, 0, Decimal("50.00"))  # A12's 50
    assert rows[(jun, "loyal")] == (2, 11, pytest.approx(2 / 11), 1, 0, 0, Decimal("100.00"))  # A06's 100
    assert rows[(jun, "active")] == (3, 11, pytest.approx(3 / 11), 1, 1, 1, Decimal("600.00"))  # A09's 600
    assert query(warehouse, "select count(*), count(distinct month) from marts.mart_lifecycle_monthly") == [
        (18 * 6, 18)
    ]


def _month_end(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1) - timedelta(days=1)


def _reference_lifecycle(vip_share: str) -> dict[tuple[date, str], tuple[str, Decimal]]:
    """marts.md's lifecycle rules applied naively, one month at a time, in plain Python on the
    fixture: (month, account created by the month's end) -> (stage, net revenue of the month)."""
    orders = [(o, a, date.fromisoformat(d), Decimal(amount)) for o, a, d, s, amount in ORDERS if s == "completed"]
    account_of = {o: a for o, a, _, _ in orders}
    returns = [(o, account_of[o], date.fromisoformat(d), Decimal(amount)) for _, o, d, amount in RETURNS]
    result = {}
    for month in MONTHS:
        as_of = min(_month_end(month), AS_OF)  # the as_of month is evaluated on as_of_date
        known_orders = [o for o in orders if o[2] <= as_of]
        known_returns = [r for r in returns if r[2] <= as_of]
        customers = {}
        for account in ACCOUNT_CREATED:
            dates = [d for _, a, d, _ in known_orders if a == account]
            in_window = {o for o, a, d, _ in known_orders if a == account and d > as_of - timedelta(days=365)}
            revenue_365d = sum(amt for o, _, _, amt in known_orders if o in in_window) - sum(
                amt for o, _, _, amt in known_returns if o in in_window
            )
            customers[account] = (min(dates, default=None), max(dates, default=None), len(in_window), revenue_365d)
        ranked = sorted((a for a in customers if customers[a][3] > 0), key=lambda a: (-customers[a][3], a))
        vips = set(ranked[: ceil(Decimal(vip_share) * len(ranked))])
        for account, created in ACCOUNT_CREATED.items():
            if date.fromisoformat(created) > _month_end(month):
                continue
            first, last, orders_365d, _ = customers[account]
            if first is None:
                stage = "prospect"
            elif (as_of - last).days > 180:
                stage = "inactive"
            elif account in vips:
                stage = "vip"
            elif (as_of - first).days < 90:
                stage = "new"
            elif orders_365d >= 3:
                stage = "loyal"
            else:
                stage = "active"
            net_revenue = sum(amt for _, a, d, amt in known_orders if a == account and d >= month) - sum(
                amt for _, a, d, amt in known_returns if a == account and d >= month
            )
            result[(month, account)] = (stage, net_revenue)
    return result


def test_lifecycle_fact_matches_a_naive_month_by_month_evaluation(warehouse):
    expected = _reference_lifecycle(str(VARS["lifecycle_vip_share"]))
    rows = query(
        warehouse,
        "select month, account_id, lifecycle_stage, net_revenue, previous_stage "
        "from marts.fct_customer_lifecycle_monthly",
    )
    assert {(m, a): (stage, net) for m, a, stage, net, _ in rows} == expected
    # previous_stage: the account's stage the month before, NULL in its first month
    for month, account, _, _, previous_stage in rows:
        before = MONTHS[MONTHS.index(month) - 1] if month > MONTHS[0] else None
        assert previous_stage == expected.get((before, account), (None,))[0], (month, account)


def test_dim_customers_agrees_with_the_as_of_month_of_the_fact(warehouse):
    mismatches = query(
        warehouse,
        """
        select d.account_id from marts.dim_customers d
        join marts.fct_customer_lifecycle_monthly f on f.account_id = d.account_id and f.month = '2025-06-01'
        where f.lifecycle_stage <> d.lifecycle_stage""",
    )
    assert mismatches == []
