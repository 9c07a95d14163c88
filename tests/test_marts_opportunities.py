"""Opportunity marts on a hand-made raw fixture: fct_opportunities, mart_funnel_monthly,
mart_lead_funnel_monthly and mart_pipeline_forecast (marts.md), built once by a real dbt build.

Every expected value below is worked out by hand from the fixture (arithmetic in the comments).
"""

from datetime import date
from decimal import Decimal

import pytest

from tests.support import build_warehouse, query, write_raw_batch

MODELS = "+fct_opportunities +mart_funnel_monthly +mart_lead_funnel_monthly +mart_pipeline_forecast"

# as_of_date is derived from the data: the latest event is the call of 2025-03-31; the earliest is
# O1's creation on 2025-01-05 (lead and account dates do not count). So months run 2025-01 ..
# 2025-03 and the forecast covers 2025-03 .. 2025-05.
AS_OF = date(2025, 3, 31)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("opportunities")
    raw = data_dir / "raw"
    write_raw_batch(
        raw,
        "teams",
        [
            {"team_id": "T1", "team_name": "North", "region": "East"},
            {"team_id": "T2", "team_name": "South", "region": "South"},
        ],
    )
    write_raw_batch(
        raw,
        "reps",
        [
            {"rep_id": "R1", "team_id": "T1", "status": "active"},  # region from team: East
            {"rep_id": "R2", "team_id": "T1", "region": "West", "status": "active"},  # own region
            {"rep_id": "R3", "team_id": "T2", "status": "active"},
        ],
    )
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": "A1", "account_name": "Acme", "owner_rep_id": "R1", "created_at": "2024-12-01 00:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "leads",
        [
            # January, web: L1 converted to O1 (won) 3 days after creation; L2 qualified; L4 not
            {
                "lead_id": "L1",
                "created_at": "2025-01-02 08:00:00",
                "lead_source": "web",
                "status": "converted",
                "converted_at": "2025-01-05 08:00:00",
                "converted_opportunity_id": "O1",
            },
            {
                "lead_id": "L2",
                "created_at": "2025-01-20 00:00:00",
                "lead_source": "web",
                "status": "working",
                "qualified_at": "2025-01-22 00:00:00",
            },
            {"lead_id": "L4", "created_at": "2025-01-25 00:00:00", "lead_source": "web", "status": "unqualified"},
            # February, referral: converted to the open deal O3, conversion time not recorded
            {
                "lead_id": "L3",
                "created_at": "2025-02-03 00:00:00",
                "lead_source": "referral",
                "status": "converted",
                "converted_opportunity_id": "O3",
            },
        ],
    )
    write_raw_batch(
        raw,
        "opportunities",
        [
            {
                "opportunity_id": "O1",
                "owner_rep_id": "R1",
                "stage": "closed_won",
                "account_id": "A1",
                "lead_id": "L1",
                "created_at": "2025-01-05 09:00:00",
                "close_date": "2025-02-15",
                "amount": "1000",
            },
            {
                "opportunity_id": "O2",
                "owner_rep_id": "R1",
                "stage": "closed_lost",
                "account_id": "A1",
                "created_at": "2025-01-10 09:00:00",
                "close_date": "2025-02-21",
                "amount": "500",
            },
            {
                "opportunity_id": "O3",
                "owner_rep_id": "R2",
                "stage": "proposal",
                "lead_id": "L3",
                "created_at": "2025-02-01 00:00:00",
                "close_date": "2025-01-31",
                "amount": "2000",
            },
            {"opportunity_id": "O4", "owner_rep_id": "R2", "stage": "prospecting"},  # no created, close, amount
            {
                "opportunity_id": "O5",
                "owner_rep_id": "R3",
                "stage": "negotiation",
                "created_at": "2025-03-01 00:00:00",
                "close_date": "2025-04-15",
                "amount": "100",
            },
            {
                "opportunity_id": "O6",
                "owner_rep_id": "R1",
                "stage": "closed_won",
                "created_at": "2025-02-01 00:00:00",
                "close_date": "2025-03-10",
                "amount": "300",
            },
        ],
    )
    write_raw_batch(
        raw,
        "opportunity_stage_history",
        [
            {"opportunity_id": "O1", "stage": "prospecting", "entered_at": "2025-01-05 09:00:00"},
            {"opportunity_id": "O1", "stage": "qualification", "entered_at": "2025-01-07 09:00:00"},
            {"opportunity_id": "O1", "stage": "needs_analysis", "entered_at": "2025-01-10 09:00:00"},
            {"opportunity_id": "O1", "stage": "proposal", "entered_at": "2025-01-15 09:00:00"},
            {"opportunity_id": "O1", "stage": "negotiation", "entered_at": "2025-02-01 09:00:00"},
            {"opportunity_id": "O1", "stage": "closed_won", "entered_at": "2025-02-15 09:00:00"},
            # O2 skipped needs_analysis, was lost on 02-21 and "moved" to negotiation after the loss
            {"opportunity_id": "O2", "stage": "prospecting", "entered_at": "2025-01-10 09:00:00"},
            {"opportunity_id": "O2", "stage": "qualification", "entered_at": "2025-01-12 09:00:00"},
            {"opportunity_id": "O2", "stage": "proposal", "entered_at": "2025-01-20 09:00:00"},
            {"opportunity_id": "O2", "stage": "closed_lost", "entered_at": "2025-02-21 09:00:00"},
            {"opportunity_id": "O2", "stage": "negotiation", "entered_at": "2025-02-25 09:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "activities",
        [
            {"activity_id": "X1", "rep_id": "R1", "activity_type": "call", "occurred_at": "2025-03-31 10:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "targets",
        [
            {"month": "2025-03-01", "metric": "net_revenue", "target_value": "2000", "team_id": "T1"},
            {"month": "2025-04-01", "metric": "net_revenue", "target_value": "1000", "team_id": "T1"},
            {"month": "2025-04-01", "metric": "net_revenue", "target_value": "80", "team_id": "T2"},
            {
                "month": "2025-04-01",
                "metric": "net_revenue",
                "target_value": "5000",
                "rep_id": "R3",
            },  # rep target: not the team's
            {"month": "2025-03-01", "metric": "visits", "target_value": "40", "team_id": "T1"},  # not revenue
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        # only the data tests of the selected models (others' marts are not built here)
        mp.setenv("DBT_INDIRECT_SELECTION", "cautious")
        return build_warehouse(data_dir, select=MODELS)


def test_calendar_is_derived_from_the_data(warehouse):
    assert query(warehouse, "select as_of_date, as_of_month, first_month from intermediate.int_calendar") == [
        (AS_OF, date(2025, 3, 1), date(2025, 1, 1))
    ]


def test_fct_opportunities_rows(warehouse):
    rows = query(
        warehouse,
        """
        select opportunity_id, team_id, region, lead_source, status, amount, weighted_amount,
               max_stage_order_reached, sales_cycle_days, age_days, is_closed, is_won
        from marts.fct_opportunities order by opportunity_id""",
    )
    d = Decimal
    assert rows == [
        # won: weighted = amount; reached all 6 stages; cycle 2025-02-15 - 2025-01-05 = 26 + 15 = 41
        ("O1", "T1", "East", "web", "won", d("1000.00"), d("1000.00"), 6, 41, None, True, True),
        # lost: weighted 0; highest stage before the loss is proposal (4), not the later negotiation;
        # cycle 2025-02-21 - 2025-01-10 = 21 + 21 = 42
        ("O2", "T1", "East", None, "lost", d("500.00"), d("0.00"), 4, 42, None, True, False),
        # open proposal: 2000 x 0.60 = 1200; age 2025-03-31 - 2025-02-01 = 28 + 30 = 58; rep's own region
        ("O3", "T1", "West", "referral", "open", d("2000.00"), d("1200.00"), 4, None, 58, False, False),
        # no amount -> 0; no created date -> no age
        ("O4", "T1", "West", None, "open", d("0.00"), d("0.00"), 1, None, None, False, False),
        # open negotiation: 100 x 0.80 = 80; age 2025-03-31 - 2025-03-01 = 30
        ("O5", "T2", "South", None, "open", d("100.00"), d("80.00"), 5, None, 30, False, False),
        # won without history reached every stage; cycle 2025-03-10 - 2025-02-01 = 28 + 9 = 37
        ("O6", "T1", "East", None, "won", d("300.00"), d("300.00"), 6, 37, None, True, True),
    ]


def test_funnel_has_every_team_cohort_and_stage(warehouse):
    # 2 teams x (3 months + the NULL cohort of O4) x 6 stages
    [(n, cohorts)] = query(
        warehouse,
        """
        select count(*), count(distinct coalesce(cast(cohort_month as varchar), 'none'))
        from marts.mart_funnel_monthly""",
    )
    assert (n, cohorts) == (48, 4)


def test_funnel_january_cohort_of_team_t1(warehouse):
    rows = query(
        warehouse,
        """
        select stage_order, stage, opportunities_reached, opportunities_advanced, stage_conversion_rate,
               cumulative_conversion_rate, stage_durations_measured, avg_days_in_stage
        from marts.mart_funnel_monthly
        where team_id = 'T1' and cohort_month = date '2025-01-01' order by stage_order""",
    )
    # January cohort: O1 (won, reached 1-6) and O2 (lost after proposal, reached 1-4)
    assert rows == [
        # days in stage 1: O1 01-05 -> 01-07 = 2, O2 01-10 -> 01-12 = 2
        (1, "prospecting", 2, 2, 1.0, 1.0, 2, 2.0),
        # stage 2: O1 01-07 -> 01-10 = 3; O2 skipped needs_analysis, so no next entry date
        (2, "qualification", 2, 2, 1.0, 1.0, 1, 3.0),
        # stage 3: O2 skipped it (reached, advanced, but no entry date); O1 01-10 -> 01-15 = 5
        (3, "needs_analysis", 2, 2, 1.0, 1.0, 1, 5.0),
        # stage 4: only O1 went on (01-15 -> 02-01 = 17 days): 1 / 2
        (4, "proposal", 2, 1, 0.5, 1.0, 1, 17.0),
        # stage 5: O1 02-01 -> 02-15 = 14; cumulative 1 / 2
        (5, "negotiation", 1, 1, 1.0, 0.5, 1, 14.0),
        # the last stage has no next one
        (6, "closed_won", 1, None, None, 0.5, 0, None),
    ]


def test_funnel_null_cohort_and_empty_cohorts(warehouse):
    rows = query(
        warehouse,
        """
        select team_id, stage_order, opportunities_reached, opportunities_advanced, stage_conversion_rate,
               cumulative_conversion_rate
        from marts.mart_funnel_monthly
        where cohort_month is null and stage_order <= 2 order by team_id, stage_order""",
    )
    assert rows == [
        ("T1", 1, 1, 0, 0.0, 1.0),  # O4 only reached stage 1
        ("T1", 2, 0, 0, None, 0.0),  # nobody reached stage 2: rate NULL, cumulative 0 / 1
        ("T2", 1, 0, 0, None, None),  # T2 has no such deal: zero-filled, ratios NULL
        ("T2", 2, 0, 0, None, None),
    ]
    # Team T2's March cohort: O5 in negotiation reached 1-5
    assert query(
        warehouse,
        """
        select stage_order, opportunities_reached, opportunities_advanced
        from marts.mart_funnel_monthly
        where team_id = 'T2' and cohort_month = date '2025-03-01' and stage_order >= 5
        order by stage_order""",
    ) == [(5, 1, 0), (6, 0, None)]


def test_lead_funnel(warehouse):
    rows = query(
        warehouse,
        """
        select cohort_month, lead_source, leads_created, leads_qualified, leads_converted,
               opportunities_won, won_amount, qualification_rate, conversion_rate, lead_to_win_rate,
               avg_days_to_convert
        from marts.mart_lead_funnel_monthly order by cohort_month""",
    )
    assert rows == [
        # L1, L2, L4: qualified L1 (status converted) + L2 (qualified_at); converted L1 -> O1 won 1000;
        # L1 converted 01-02 08:00 -> 01-05 08:00 = 3 days
        (date(2025, 1, 1), "web", 3, 2, 1, 1, Decimal("1000.00"), 2 / 3, 1 / 3, 1 / 3, 3.0),
        # L3 converted to the open O3 with no conversion time
        (date(2025, 2, 1), "referral", 1, 1, 1, 0, Decimal("0.00"), 1.0, 1.0, 0.0, None),
    ]


def test_pipeline_forecast(warehouse):
    rows = query(
        warehouse,
        """
        select close_month, team_id, revenue_target, won_amount, open_pipeline_amount,
               weighted_pipeline_amount, forecast_amount, remaining_target, coverage_ratio, gap_to_target
        from marts.mart_pipeline_forecast order by team_id, close_month""",
    )
    d = Decimal
    mar, apr, may = date(2025, 3, 1), date(2025, 4, 1), date(2025, 5, 1)
    assert rows == [
        # won O6 300; open O3 (close date past) 2000 / 1200 and O4 (no close date) 0 count in March;
        # forecast 300 + 1200 = 1500; remaining 2000 - 300 = 1700; coverage 2000 / 1700; gap 500
        (
            mar,
            "T1",
            d("2000.00"),
            d("300.00"),
            d("2000.00"),
            d("1200.00"),
            d("1500.00"),
            d("1700.00"),
            2000 / 1700,
            d("500.00"),
        ),
        # nothing closes in April: remaining 1000, coverage 0 / 1000 = 0.0, gap 1000
        (apr, "T1", d("1000.00"), d("0.00"), d("0.00"), d("0.00"), d("0.00"), d("1000.00"), 0.0, d("1000.00")),
        # no target in May: target, remaining, coverage and gap NULL
        (may, "T1", None, d("0.00"), d("0.00"), d("0.00"), d("0.00"), None, None, None),
        (mar, "T2", None, d("0.00"), d("0.00"), d("0.00"), d("0.00"), None, None, None),
        # O5 100 weighted 80 closes in April; target 80 (the rep target 5000 is not the team's):
        # remaining 80, coverage 100 / 80 = 1.25, gap 80 - 80 = 0
        (apr, "T2", d("80.00"), d("0.00"), d("100.00"), d("80.00"), d("80.00"), d("80.00"), 1.25, d("0.00")),
        (may, "T2", None, d("0.00"), d("0.00"), d("0.00"), d("0.00"), None, None, None),
    ]
