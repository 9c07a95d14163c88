"""The history marts (marts.md "History: what was known then") on the session's demo build: a few
cells of fct_pipeline_snapshots, mart_pipeline_movement_monthly, mart_stage_win_rates and
mart_forecast_accuracy against values computed here, independently, from the generated CSVs.

The rules are re-implemented in plain Python below (events, state on day d, reached stages,
calibrated rates); the hand-worked traps are the dbt unit tests beside each model.
"""

from __future__ import annotations

import calendar
import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

STAGES = {
    "prospecting": 1,
    "qualification": 2,
    "needs_analysis": 3,
    "proposal": 4,
    "negotiation": 5,
    "closed_won": 6,
    "closed_lost": None,
}
SEED = {1: Decimal("0.10"), 2: Decimal("0.20"), 3: Decimal("0.40"), 4: Decimal("0.60"), 5: Decimal("0.80")}
CLOSED = ("closed_won", "closed_lost")


@dataclass
class Deal:
    events: list = field(default_factory=list)  # (time, rank, load, stage, amount, close_date, owner)
    history: list = field(default_factory=list)  # (entered_at, stage)
    current: dict | None = None  # the latest raw version

    def value_at(self, d: date, index: int):
        """The attribute at the end of day d: the latest event up to d carrying it, else the first one."""
        carrying = sorted((e for e in self.events if e[index] is not None), key=lambda e: e[:3])
        upto = [e for e in carrying if e[0].date() <= d]
        chosen = upto[-1] if upto else (carrying[0] if carrying else None)
        return chosen[index] if chosen else None

    @property
    def created(self) -> date | None:
        return _dt(self.current["created_at"]).date() if self.current["created_at"] else None

    @property
    def close_date(self) -> date | None:
        return _day(self.current["close_date"])

    def closed_by(self, d: date) -> bool:
        return self.current["stage"] in CLOSED and self.close_date is not None and self.close_date <= d

    def open_at(self, d: date) -> bool:
        return self.created is not None and self.created <= d and not self.closed_by(d)

    def reached(self) -> int:
        """Highest stage order reached (marts.md "Stages")."""
        stage = self.current["stage"]
        if stage == "closed_won":
            return 6
        lost_at = max((t for t, s in self.history if s == "closed_lost"), default=None)
        orders = [
            STAGES[s]
            for t, s in self.history
            if STAGES.get(s) and (stage != "closed_lost" or lost_at is None or t < lost_at)
        ]
        return max([1, *orders, STAGES.get(stage) or 1])


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _rows(folder):
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            yield from ((path.name, i, row) for i, row in enumerate(csv.DictReader(handle)))


def _deals(exports, landed: date) -> dict[str, Deal]:
    deals: dict[str, Deal] = defaultdict(Deal)
    for _, i, row in _rows(exports / "opportunity_stage_history"):
        open_stage = row["stage"] if STAGES.get(row["stage"]) and row["stage"] not in CLOSED else None
        deal = deals[row["opportunity_id"]]
        deal.history.append((_dt(row["entered_at"]), row["stage"]))
        amount = Decimal(row["amount"]) if row.get("amount") else None
        deal.events.append((_dt(row["entered_at"]), 0, i, open_stage, amount, _day(row.get("close_date", "")), None))
    for name, i, row in _rows(exports / "opportunities"):
        at = _dt(row["updated_at"]) if row["updated_at"] else datetime.combine(landed, datetime.min.time())
        open_stage = row["stage"] if row["stage"] not in CLOSED else None
        deal = deals[row["opportunity_id"]]
        deal.events.append(
            (
                at,
                1,
                (name, i),
                open_stage,
                Decimal(row["amount"]) if row["amount"] else None,
                _day(row["close_date"]),
                row["owner_rep_id"],
            )
        )
        deal.current = row
    return {k: v for k, v in deals.items() if v.current is not None}


def _month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


@pytest.fixture(scope="module")
def demo(demo_run):
    con = duckdb.connect(str(demo_run.warehouse), read_only=True)
    [(landed,)] = con.execute(
        "select min(started_at) from quality.ingestion_ledger where entity = 'opportunities' and status = 'loaded'"
    ).fetchall()
    deals = _deals(demo_run.exports, landed.date())
    dates = [
        d
        for (d,) in con.execute("select distinct forecast_date from marts.mart_forecast_accuracy order by 1").fetchall()
    ]
    yield con, deals, dates
    con.close()


def _open_stage_at(deal: Deal, d: date) -> int:
    stage = deal.value_at(d, 3)
    return STAGES[stage] if stage else 1


def test_snapshot_totals_equal_the_deals_open_at_a_month_end(demo):
    con, deals, dates = demo
    d = dates[len(dates) // 2]
    open_deals = [deal for deal in deals.values() if deal.open_at(d)]
    amounts = [deal.value_at(d, 4) or Decimal(0) for deal in open_deals]
    [(count, amount, weighted)] = con.execute(
        "select count(*), sum(coalesce(amount, 0)), sum(coalesce(weighted_amount, 0)) "
        "from marts.fct_pipeline_snapshots where snapshot_date = ?",
        [d],
    ).fetchall()
    expected_weighted = sum(round(a * SEED[_open_stage_at(deal, d)], 2) for deal, a in zip(open_deals, amounts))
    assert len(open_deals) > 0
    assert (count, amount, weighted) == (len(open_deals), sum(amounts), expected_weighted)


def test_waterfall_won_and_new_deals_of_a_month(demo):
    con, deals, dates = demo
    start, end = dates[len(dates) // 2 - 1], dates[len(dates) // 2]
    month = end.replace(day=1)
    won = [x for x in deals.values() if x.open_at(start) and x.closed_by(end) and x.current["stage"] == "closed_won"]
    new = [x for x in deals.values() if x.open_at(end) and not x.open_at(start) and x.created >= month]
    [(won_count, won_amount, new_count, new_amount)] = con.execute(
        "select sum(won_count), sum(won_amount), sum(new_count), sum(new_amount) "
        "from marts.mart_pipeline_movement_monthly where month = ?",
        [month],
    ).fetchall()
    assert won and new
    assert (won_count, new_count) == (len(won), len(new))
    assert won_amount == sum(x.value_at(start, 4) or Decimal(0) for x in won)
    assert new_amount == sum(x.value_at(end, 4) or Decimal(0) for x in new)


def _win_rates(deals, closed_by: date | None) -> dict[int, tuple[int, int]]:
    rates = {}
    closed = [x for x in deals.values() if x.closed_by(closed_by or date.max)]
    for order in SEED:
        reached = [x for x in closed if x.reached() >= order]
        rates[order] = (len(reached), sum(x.current["stage"] == "closed_won" for x in reached))
    return rates


def test_all_teams_win_rate_per_stage(demo):
    con, deals, _ = demo
    rows = con.execute(
        "select stage_order, closed_reached, won from marts.mart_stage_win_rates where team_id is null order by 1"
    ).fetchall()
    assert {order: (reached, won) for order, reached, won in rows} == _win_rates(deals, None)


def test_seed_and_calibrated_forecast_of_the_next_month(demo):
    con, deals, dates = demo
    d = dates[len(dates) // 2]
    close_month = date.fromordinal(_month_end(d).toordinal() + 1)
    rates = {k: (Decimal(won) / reached if reached else SEED[k]) for k, (reached, won) in _win_rates(deals, d).items()}
    seed = calibrated = Decimal(0)
    for deal in deals.values():
        close = deal.value_at(d, 5)
        if deal.open_at(d) and close and close.replace(day=1) == close_month:
            amount, stage = deal.value_at(d, 4) or Decimal(0), _open_stage_at(deal, d)
            seed += round(amount * SEED[stage], 2)
            calibrated += amount * rates[stage]
    [(forecast, calibrated_forecast, teams)] = con.execute(
        "select sum(forecast_amount), sum(calibrated_forecast_amount), count(*) from marts.mart_forecast_accuracy "
        "where forecast_date = ? and close_month = ?",
        [d, close_month],
    ).fetchall()
    assert seed > 0 and forecast == seed
    # the mart rounds each team's sum to cents
    assert abs(calibrated_forecast - calibrated) <= Decimal("0.005") * teams
    assert calibrated_forecast != forecast
