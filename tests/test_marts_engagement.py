"""Engagement columns of dim_customers and fct_opportunities (marts.md "The customer-treatment
loop") against the demo company's CSVs: as_of_date and a few cells recomputed here with pandas
from the generated exports (the session's demo build, no build of its own)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.test_end_to_end import marts, read_export


@pytest.fixture(scope="module")
def exports(demo_run) -> dict[str, pd.DataFrame]:
    names = ("activities", "opportunities", "opportunity_stage_history", "orders", "survey_responses")
    frames = {name: read_export(demo_run.exports, name) for name in names}
    frames["opportunities"] = frames["opportunities"].drop_duplicates("opportunity_id", keep="last")
    return frames


@pytest.fixture(scope="module")
def as_of(exports) -> date:
    """marts.md "as_of_date": the latest business event date in the data."""
    opps = exports["opportunities"]
    closed = opps[opps.stage.isin(["closed_won", "closed_lost"])]
    dates = [
        exports["orders"].order_date,
        opps.created_at,
        opps.updated_at,
        closed.close_date,
        exports["opportunity_stage_history"].entered_at,
        exports["activities"].occurred_at,
        exports["survey_responses"].submitted_at,
    ]
    return date.fromisoformat(max(s.dropna().str[:10].max() for s in dates))


def test_most_touched_customers_match_the_csvs(demo_run, exports, as_of):
    acts = exports["activities"].dropna(subset=["account_id"]).copy()
    acts["day"] = acts.occurred_at.str[:10].map(date.fromisoformat)
    window = acts[acts.day > as_of - timedelta(days=90)]
    busiest = window.account_id.value_counts().head(3).index
    for account in busiest:
        mine = acts[acts.account_id == account]
        visits = mine[mine.activity_type == "visit"]
        [row] = marts(
            demo_run.warehouse,
            """
            select last_activity_date, last_visit_date, activities_90d, visits_90d, days_since_last_touch
            from marts.dim_customers where account_id = ?""",
            [account],
        )
        assert row == (
            mine.day.max(),
            visits.day.max() if len(visits) else None,
            (mine.day > as_of - timedelta(days=90)).sum(),
            (visits.day > as_of - timedelta(days=90)).sum(),
            (as_of - mine.day.max()).days,
        )


def test_open_deals_stage_days_past_due_and_stale_match_the_csvs(demo_run, exports, as_of):
    opps = exports["opportunities"]
    open_deals = opps[~opps.stage.isin(["closed_won", "closed_lost"])]
    assert len(open_deals) > 0, "the demo company should have open deals"
    history = exports["opportunity_stage_history"]
    acts = exports["activities"].dropna(subset=["opportunity_id"])
    expected = {}
    for deal in open_deals.itertuples():
        # an early-stage deal may lack created_at (exports.md): no stage start then, and no touch
        created = date.fromisoformat(deal.created_at[:10]) if isinstance(deal.created_at, str) else None
        entries = history[(history.opportunity_id == deal.opportunity_id) & (history.stage == deal.stage)]
        entered = date.fromisoformat(entries.entered_at.max()[:10]) if len(entries) else created
        touches = [created] if created else []
        touches += [date.fromisoformat(t[:10]) for t in acts[acts.opportunity_id == deal.opportunity_id].occurred_at]
        past_due = isinstance(deal.close_date, str) and date.fromisoformat(deal.close_date) < as_of
        expected[deal.opportunity_id] = (
            (as_of - entered).days if entered else None,
            past_due,
            not touches or max(touches) <= as_of - timedelta(days=30),
        )
    actual = {
        o: (d, p, s)
        for o, d, p, s in marts(
            demo_run.warehouse,
            """
        select opportunity_id, days_in_current_stage, is_past_due, is_stale
        from marts.fct_opportunities where status = 'open'""",
        )
    }
    assert actual == expected
    [(closed_flags,)] = marts(
        demo_run.warehouse,
        """select count(*) from marts.fct_opportunities
        where status <> 'open' and (is_past_due or is_stale or days_in_current_stage is not null)""",
    )
    assert closed_flags == 0
