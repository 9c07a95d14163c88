"""The README's "Questions a sales manager asks" run, as printed, against the published demo warehouse.

The README is where an analyst copies SQL from: a question that names a column a mart no longer has,
or a mart that was renamed, fails here instead of in somebody's dashboard.
"""

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests import test_marts_engagement
from tests.test_end_to_end import read_export
from tests.test_marts_treatment import lifecycle_stages, prescribed_types, treatment_by_hand

# the CSVs and marts.md's as_of_date, as the engagement tests read them (pytest fixtures)
exports, as_of = test_marts_engagement.exports, test_marts_engagement.as_of

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_questions() -> list[tuple[str, str]]:
    """(question, SQL) for every statement of the SQL block after "Questions a sales manager asks"."""
    text = README.read_text()
    block = re.search(r"Questions a sales manager asks.*?```sql\n(.*?)```", text, re.S).group(1)
    questions = []
    for statement in (s.strip() for s in block.split(";")):
        if not statement:
            continue
        comments = [line[2:].strip() for line in statement.splitlines() if line.startswith("--")]
        questions.append((" ".join(comments), statement))
    return questions


def test_the_readme_asks_the_history_product_and_cold_deal_questions():
    asked = " ".join(q for q, _ in readme_questions())
    for topic in ("pipeline move", "forecasts right", "going cold", "earn the margin", "playbook pay off"):
        assert topic in asked, topic


@pytest.mark.parametrize("question, sql", readme_questions(), ids=lambda v: v[:40] if isinstance(v, str) else v)
def test_every_readme_question_runs_on_the_published_warehouse(demo_run, question, sql):
    assert demo_run.exit_code == 0, demo_run.output
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relation = con.sql(sql)
        columns, rows = relation.columns, relation.fetchall()
    selected = re.search(r"select (.*?)\nfrom marts", sql.split(")\nselect", 1)[-1], re.S)
    assert columns, question
    if selected and "(" not in selected.group(1):  # plain column lists come back as named
        assert columns == [c.strip() for c in selected.group(1).replace("\n", " ").split(",")]
    # the demo company has a pipeline history and sells products every month; whether a VIP went
    # quiet or a deal went cold depends on the day
    if any(topic in question for topic in ("pipeline move", "forecasts right", "margin", "playbook pay off")):
        assert rows, f"no answer to: {question}"


def _answer(demo_run, topic: str) -> list[dict]:
    [sql] = [sql for question, sql in readme_questions() if topic in question]
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relation = con.sql(sql)
        return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def test_the_cold_deals_answer_matches_the_csvs(demo_run, exports, as_of):
    """Open deals (the CSVs' latest version) with no touch (created date or an activity naming
    them) in the 30 days up to as_of, or a close date before it: owner and deal, as the README lists them."""
    opps = exports["opportunities"]
    open_deals = opps[~opps.stage.isin(["closed_won", "closed_lost"])]
    acts = exports["activities"].dropna(subset=["opportunity_id"])
    last_touch = acts.groupby("opportunity_id").occurred_at.max().str[:10]
    expected = set()
    for deal in open_deals.itertuples():
        touches = [t for t in (deal.created_at, last_touch.get(deal.opportunity_id)) if isinstance(t, str)]
        stale = not touches or date.fromisoformat(max(t[:10] for t in touches)) <= as_of - timedelta(days=30)
        past_due = isinstance(deal.close_date, str) and date.fromisoformat(deal.close_date) < as_of
        if stale or past_due:
            expected.add((deal.owner_rep_id, deal.opportunity_id))
    rows = _answer(demo_run, "going cold")
    assert expected, "the demo company should have deals going cold"
    assert {(r["owner_rep_id"], r["opportunity_id"]) for r in rows} == expected
    owners = [r["owner_rep_id"] for r in rows]
    assert owners == sorted(owners), "the answer lists the deals per owner"


def test_the_margin_answer_matches_the_csvs(demo_run):
    """Per product and channel over the README's twelve months, from the CSVs: completed lines' net
    amount less the refunds dated in the window on them; margin = that − units × unit_cost, none
    without a unit cost; the rate over the costed revenue only."""
    orders = read_export(demo_run.exports, "orders").drop_duplicates("order_id", keep="last")
    orders = orders[orders.status == "completed"][["order_id", "channel", "order_date"]]
    lines = read_export(demo_run.exports, "order_lines").merge(orders, on="order_id")
    refunds = read_export(demo_run.exports, "returns").merge(
        lines[["order_id", "line_number", "product_id", "channel"]], on=["order_id", "line_number"]
    )
    unit_cost = read_export(demo_run.exports, "products").set_index("product_id").unit_cost.astype(float)
    last = max(lines.order_date.max()[:7], refunds.return_date.max()[:7])
    first = (pd.Period(last, "M") - 11).strftime("%Y-%m")  # month > last − 12 months
    lines = lines[lines.order_date.str[:7].between(first, last)]
    refunds = refunds[refunds.return_date.str[:7].between(first, last)]
    lines = lines.assign(
        units=lines.quantity.astype(float),
        net=lines.quantity.astype(float) * lines.unit_price.astype(float)
        - lines.discount_amount.fillna("0").astype(float),
    )
    keys = ["product_id", "channel"]
    sums = (
        lines.groupby(keys, dropna=False)[["units", "net"]]
        .sum()
        .join(
            refunds.assign(refund=refunds.refund_amount.astype(float)).groupby(keys, dropna=False).refund.sum(),
            how="outer",
        )
        .fillna(0.0)
    )
    sums["revenue"] = sums.net - sums.refund
    sums["margin"] = sums.revenue - sums.units * sums.index.get_level_values("product_id").map(unit_cost)
    top = sums.sort_values("revenue", ascending=False).head(10)
    rows = _answer(demo_run, "earn the margin")
    assert len(rows) == len(top) == 10
    assert sums.margin.isna().any(), "the demo should sell a product without a unit cost"
    for row, ((product, channel), want) in zip(rows, top.iterrows()):
        assert (row["product_id"], row["channel"]) == (product, None if pd.isna(channel) else channel)
        assert float(row["net_revenue"]) == pytest.approx(want.revenue, abs=0.01)
        if pd.isna(want.margin):
            assert row["gross_margin"] is None and row["margin_rate"] is None
        else:
            assert float(row["gross_margin"]) == pytest.approx(want.margin, abs=0.02)
            assert float(row["margin_rate"]) == pytest.approx(round(want.margin / want.revenue, 3), abs=0.0011)


def test_the_treatment_answer_matches_the_csvs(demo_run):
    """Last full month's cells recomputed from the CSVs and the seed (tests/test_marts_treatment.py),
    summed over the teams per stage, then divided: as the README's answer states them."""
    stage = lifecycle_stages(demo_run)
    cells = treatment_by_hand(demo_run.exports, stage)
    last = sorted({month for month, _, _ in cells})[-2]  # the last full month, before the as_of month
    per_stage: dict[str, list[int]] = {}
    for (month, _, lifecycle_stage), counts in cells.items():
        if month == last:
            sums = per_stage.setdefault(lifecycle_stage, [0] * 4)
            for i in range(4):
                sums[i] += counts[i]
    rows = _answer(demo_run, "playbook pay off")
    assert [r["lifecycle_stage"] for r in rows] == sorted(prescribed_types())  # every stage, zero-filled
    for row in rows:
        customers, treated, ordered_treated, ordered_untreated = per_stage.get(row["lifecycle_stage"], [0] * 4)
        assert (row["customers"], row["treated"]) == (customers, treated), row
        for got, num, den in (
            (row["treatment_rate"], treated, customers),
            (row["order_rate_treated"], ordered_treated, treated),
            (row["order_rate_untreated"], ordered_untreated, customers - treated),
        ):
            assert got == (None if den == 0 else pytest.approx(round(num / den, 3), abs=0.0006)), row
    assert sum(r["customers"] for r in rows) > 0 and any(r["treated"] for r in rows)
