"""Quality of sale on the demo company: complaints per rep and month, refund rate, CSAT attainment,
NPS gap and a team's distinct customers, each recomputed with plain Python from the generated
CSV files and the targets workbook, and compared with the published KPI marts."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from tests.test_bench_equivalence import owner_on_day, read_csv_rows


@pytest.fixture(scope="module")
def csv(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    exports = demo_run.exports
    accounts = read_csv_rows(exports, "accounts")
    orders = {o["order_id"]: o for o in read_csv_rows(exports, "orders")}  # the latest row of each order
    return {
        "owner": owner_on_day(accounts),
        "orders": orders,
        "exports": exports,
        "cases": {c["case_id"]: c for c in read_csv_rows(exports, "cases")},
    }


@pytest.fixture(scope="module")
def marts(demo_run):
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        return {scope: con.execute(f"select * from marts.mart_{scope}_kpi_monthly").df() for scope in ("rep", "team")}


def _value(v):
    """A mart value as float, NULL as None (pandas would turn a None back into NaN in a Series)."""
    return None if pd.isna(v) else float(v)


def _rep_of_order(csv, order_id: str) -> str:
    order = csv["orders"][order_id]
    return order["rep_id"] or csv["owner"](order["account_id"], order["order_date"])


def _team_of(marts) -> dict[tuple[str, str], str]:
    """(rep, 'YYYY-MM') -> the rep's team that month, as the rep mart states it (its own tests check it)."""
    rep = marts["rep"].dropna(subset=["team_id"])
    return {(r, m.isoformat()[:7]): t for r, m, t in zip(rep.rep_id, rep.month, rep.team_id)}


def test_complaints_per_rep_month_are_the_account_owners_on_the_opening_day(csv, marts):
    expected = Counter()
    for case in csv["cases"].values():
        if case["category"] == "complaint":
            rep = csv["owner"](case["account_id"], case["opened_at"][:10])
            if rep:
                expected[rep, case["opened_at"][:7]] += 1
    rep = marts["rep"]
    got = {(r, m.isoformat()[:7]): n for r, m, n in zip(rep.rep_id, rep.month, rep.complaints_opened) if n}
    assert len(expected) >= 5 and got == dict(expected)
    orders = rep.orders_count.where(rep.orders_count > 0)
    assert (rep.complaints_per_100_orders.dropna() - (rep.complaints_opened / orders * 100).dropna()).abs().max() < 1e-9


def test_team_refund_rate_and_distinct_customers(csv, marts):
    team_of = _team_of(marts)
    gross, refunds, buyers = defaultdict(Decimal), defaultdict(Decimal), defaultdict(set)
    completed = {o: r for o, r in csv["orders"].items() if r["status"] == "completed"}
    for line in read_csv_rows(csv["exports"], "order_lines"):
        order = completed.get(line["order_id"])
        team = order and team_of.get((_rep_of_order(csv, line["order_id"]), order["order_date"][:7]))
        if team:
            gross[team, order["order_date"][:7]] += Decimal(line["quantity"]) * Decimal(line["unit_price"]) - Decimal(
                line["discount_amount"] or 0
            )
            buyers[team, order["order_date"][:7]].add(order["account_id"])
    for refund in read_csv_rows(csv["exports"], "returns"):
        if refund["order_id"] in completed:
            team = team_of.get((_rep_of_order(csv, refund["order_id"]), refund["return_date"][:7]))
            if team:
                refunds[team, refund["return_date"][:7]] += Decimal(refund["refund_amount"])
    team = marts["team"].assign(key=lambda f: list(zip(f.team_id, f.month.map(lambda m: m.isoformat()[:7]))))
    for key, rate, active in zip(team.key, [_value(v) for v in team.refund_rate], team.active_customers):
        want = float(refunds[key] / gross[key]) if gross[key] else None
        assert (rate is None and want is None) or rate == pytest.approx(want, rel=1e-9), key
        assert active == len(buyers[key]), key
    # the demo has team months where two reps sold to one account: the reps' counts overstate it
    summed = marts["rep"].dropna(subset=["team_id"]).groupby(["team_id", "month"]).active_customers.sum()
    assert (summed.reindex(list(zip(team.team_id, team.month))).to_numpy() > team.active_customers.to_numpy()).any()


def _targets(exports) -> dict[tuple[str, str, str], float]:
    frames = [pd.read_excel(p, dtype=str) for p in sorted((exports / "targets").glob("*.xlsx"))]
    frames += [pd.read_csv(p, dtype=str) for p in sorted((exports / "targets").glob("*.csv"))]
    t = pd.concat(frames).fillna("")
    return {(r.rep_id, r.month[:7], r.metric): float(r.target_value) for r in t.itertuples() if r.rep_id}


def test_csat_attainment_and_nps_gap_per_rep_month(csv, marts):
    targets = _targets(csv["exports"])
    counts = defaultdict(Counter)
    for r in read_csv_rows(csv["exports"], "survey_responses"):
        if r["order_id"] in csv["orders"]:
            rep = _rep_of_order(csv, r["order_id"])
        else:
            rep = csv["owner"](r["account_id"], r["submitted_at"][:10])
        score, c = int(r["score"]), counts[rep, r["submitted_at"][:7]]
        c[r["survey_type"]] += 1
        c["satisfied"] += r["survey_type"] == "csat" and score >= 4
        c["net"] += r["survey_type"] == "nps" and (score >= 9) - (score <= 6)
    rep = marts["rep"]
    checked = 0
    for rep_id, month, attainment, gap in zip(
        rep.rep_id, rep.month, [_value(v) for v in rep.csat_attainment], [_value(v) for v in rep.nps_gap]
    ):
        key, c = (rep_id, month.isoformat()[:7]), counts[rep_id, month.isoformat()[:7]]
        csat_target, nps_target = targets.get((*key, "csat_rate")), targets.get((*key, "nps"))
        want_attainment = c["satisfied"] / c["csat"] / csat_target if c["csat"] and csat_target else None
        want_gap = c["net"] / c["nps"] * 100 - nps_target if c["nps"] and nps_target is not None else None
        assert (attainment is None) == (want_attainment is None) and (gap is None) == (want_gap is None), key
        if want_attainment is not None and want_gap is not None:
            assert (attainment, gap) == (pytest.approx(want_attainment), pytest.approx(want_gap)), key
            checked += 1
    assert checked >= 10
