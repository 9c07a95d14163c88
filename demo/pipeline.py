"""Opportunities and their stage history.

Each deal walks the stage ladder (prospecting ... negotiation) with a chance to be lost at every
stage, now and then skipping a stage, until it is won or lost; what has not happened by the end of
the period is still open. New accounts become customers when their first deal is won (the first
order follows on the close date); customers get upsell deals over time.

About a quarter of the deals are revised while open: their amount changes, their expected close
date is pushed out or pulled in. The export keeps every version (exports.md: a key seen again is
a newer version): each earlier version is a row just before the deal's final row, stamped with
its own updated_at, and each stage-history row carries the amount and close date of its time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.catalog import Catalog, product_ids
from demo.customers import NEVER, Accounts, account_ids, lead_ids
from demo.org import rep_ids
from demo.period import SECONDS_PER_DAY, DaySampler, Period, business_seconds, rng_for
from demo.vocab import LOST_REASONS, REPORTING_CURRENCY
from ingestion.canonical import STAGES

OPEN, WON, LOST = 0, 1, 2
N_LADDER = 5  # prospecting .. negotiation; then closed_won / closed_lost
CLOSED_WON, CLOSED_LOST = STAGES.index("closed_won"), STAGES.index("closed_lost")
# chance to be lost while in each ladder stage (upsell deals to existing customers: less)
LOSS_CHANCE = np.array([0.22, 0.18, 0.16, 0.14, 0.12])
UPSELL_LOSS_FACTOR = 0.6
MEDIAN_DAYS_IN_STAGE = np.array([5.0, 8.0, 12.0, 10.0, 7.0])
SKIP_CHANCE = 0.08
SHARE_PROSPECTS_WITH_DEAL = 0.6
UPSELL_DEALS_PER_YEAR = 1.2
SHARE_OPEN_OVERDUE = 0.15
SHARE_INCOMPLETE = 0.02  # each of: no created_at, no amount, no account_id (exports.md: legal)
SHARE_REVISED = 0.25
SHARE_REVISED_TWICE = 0.3  # of the revised deals
SHARE_PUSHED_OUT = 0.65  # of the close-date changes; the others pull the date in
MIN_REVISED_LIFE = 2 * SECONDS_PER_DAY


@dataclass(frozen=True)
class Revisions:
    """Changes to open deals, sorted by (opportunity, time): at `at_ts` the deal's amount and
    expected close date changed from `prev_*` (the version before) to the next version's."""

    opp: np.ndarray
    at_ts: np.ndarray
    prev_amount_cents: np.ndarray
    prev_close_day: np.ndarray

    def version_at(self, opps: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Index of the revision whose earlier version was in effect at ts (-1: the final one)."""
        keys = self.opp.astype(np.int64) * _KEY_SPAN + self.at_ts
        after = np.searchsorted(keys, opps.astype(np.int64) * _KEY_SPAN + ts, side="right")
        return np.where((after < len(keys)) & (self.opp[np.minimum(after, len(keys) - 1)] == opps), after, -1)


_KEY_SPAN = 1 << 36  # > any timestamp in seconds: (opportunity, time) as one sortable integer


@dataclass
class Opportunities:
    account: np.ndarray  # the real account (also for the rows exported without account_id)
    account_missing: np.ndarray
    owner: np.ndarray
    lead: np.ndarray  # -1 = none
    product: np.ndarray  # -1 = none
    created_ts: np.ndarray
    created_missing: np.ndarray
    entered_ts: np.ndarray  # (n, 5) when each ladder stage was entered, -1 = not (skipped or not yet)
    outcome: np.ndarray  # OPEN / WON / LOST
    close_ts: np.ndarray  # -1 while open
    close_day: np.ndarray  # actual (closed) or expected (open) close date
    stage: np.ndarray  # index into STAGES
    updated_ts: np.ndarray
    amount_cents: np.ndarray
    amount_missing: np.ndarray
    lost_reason: np.ndarray  # -1 = none
    revisions: Revisions | None = None

    @property
    def n(self) -> int:
        return len(self.account)


def _simulate(rng: np.random.Generator, created_ts: np.ndarray, loss_factor: float, period: Period) -> dict:
    n = len(created_ts)
    t = created_ts.astype(np.float64)
    current = np.zeros(n, dtype=np.int64)
    entered = np.full((n, N_LADDER), -1.0)
    entered[:, 0] = t
    outcome = np.full(n, OPEN)
    close = np.full(n, -1.0)
    running = np.ones(n, dtype=bool)
    for _ in range(N_LADDER + 1):
        idx = np.flatnonzero(running)
        if len(idx) == 0:
            break
        stage = current[idx]
        t_next = t[idx] + rng.lognormal(np.log(MEDIAN_DAYS_IN_STAGE[stage]), 0.7) * SECONDS_PER_DAY
        lost = rng.random(len(idx)) < LOSS_CHANCE[stage] * loss_factor
        won = ~lost & (stage == N_LADDER - 1)
        closed = lost | won
        close[idx[closed]] = t_next[closed]
        outcome[idx[lost]] = LOST
        outcome[idx[won]] = WON
        running[idx[closed]] = False
        advancing = idx[~closed]
        following = current[advancing] + 1
        skip = (rng.random(len(advancing)) < SKIP_CHANCE) & (following + 1 <= N_LADDER - 1)
        following = following + skip
        entered[advancing, following] = t_next[~closed]
        current[advancing] = following
        t[advancing] = t_next[~closed]

    # what lies beyond the end of the period has not happened yet
    entered[entered > period.end_ts] = -1.0
    not_yet = close > period.end_ts
    outcome[not_yet] = OPEN
    close[not_yet] = -1.0
    ladder_reached = np.where(entered >= 0, np.arange(N_LADDER), -1).max(axis=1)
    stage = np.where(outcome == WON, CLOSED_WON, np.where(outcome == LOST, CLOSED_LOST, ladder_reached))
    updated = np.maximum(entered.max(axis=1), close)
    return {
        "entered": entered.astype(np.int64),
        "outcome": outcome,
        "close": close.astype(np.int64),
        "stage": stage,
        "updated": updated.astype(np.int64),
    }


def build_pipeline(period: Period, accounts: Accounts, catalog: Catalog, seed: int) -> Opportunities:
    """Deals for every account; sets accounts.first_active_day for accounts won during the period."""
    rng = rng_for(seed, "pipeline")
    sampler = DaySampler(period)
    start, end = period.start_day, period.end_day

    # 1. first deals: one per converted lead, and some for existing prospects
    converted = np.flatnonzero(accounts.lead >= 0)
    prospects = np.flatnonzero(accounts.existing & ~accounts.buying_at_start)
    prospects = prospects[rng.random(len(prospects)) < SHARE_PROSPECTS_WITH_DEAL]
    lead_deal_ts = np.minimum(accounts.created_ts[converted] + rng.integers(60, 1800, len(converted)), period.end_ts)
    prospect_day = sampler.sample(rng, np.full(len(prospects), start), np.full(len(prospects), end))
    first_account = np.concatenate([converted, prospects])
    prospect_ts = prospect_day * SECONDS_PER_DAY + business_seconds(rng, len(prospects))
    first_created = np.concatenate([lead_deal_ts, prospect_ts])
    first = _simulate(rng, first_created, 1.0, period)
    won = first["outcome"] == WON
    won_day = np.full(accounts.n, NEVER)
    np.minimum.at(won_day, first_account[won], first["close"][won] // SECONDS_PER_DAY)
    newly_won = won_day < NEVER
    accounts.first_active_day = np.where(newly_won, won_day, accounts.first_active_day)

    # 2. upsell deals for customers while they buy
    customers = np.flatnonzero(accounts.first_active_day < NEVER)
    lo = np.maximum(start, accounts.first_active_day[customers] + 30)
    hi = np.minimum(accounts.churn_day[customers], end)
    span = np.maximum(hi - lo + 1, 0)
    n_upsell = rng.poisson(UPSELL_DEALS_PER_YEAR * span / 365.0)
    upsell_account = np.repeat(customers, n_upsell)
    upsell_day = sampler.sample(rng, np.repeat(lo, n_upsell), np.repeat(hi, n_upsell))
    upsell_created = upsell_day * SECONDS_PER_DAY + business_seconds(rng, len(upsell_day))
    upsell = _simulate(rng, upsell_created, UPSELL_LOSS_FACTOR, period)

    account = np.concatenate([first_account, upsell_account])
    created_ts = np.concatenate([first_created, upsell_created])
    sim = {k: np.concatenate([first[k], upsell[k]]) for k in first}
    is_first_deal = np.arange(len(account)) < len(first_account)
    lead = np.where(is_first_deal, accounts.lead[account], -1)

    # creation order gives the ids
    order = np.lexsort((np.arange(len(account)), created_ts))
    account, created_ts, lead, is_first_deal = account[order], created_ts[order], lead[order], is_first_deal[order]
    sim = {k: v[order] for k, v in sim.items()}
    n = len(account)
    created_day = created_ts // SECONDS_PER_DAY
    outcome = sim["outcome"]

    close_day = np.where(outcome != OPEN, sim["close"] // SECONDS_PER_DAY, 0)
    # open deals expect to close after the end; some are overdue (their close date has passed)
    expected = np.maximum(created_day + rng.integers(20, 120, n), end + rng.integers(3, 100, n))
    overdue = rng.random(n) < SHARE_OPEN_OVERDUE
    expected = np.where(overdue, np.maximum(end - rng.integers(1, 30, n), created_day), expected)
    close_day = np.where(outcome == OPEN, expected, close_day)

    # deals carry a good part of the revenue: a first deal is a bigger project than an upsell
    median_amount = np.where(is_first_deal, 150_000.0, 120_000.0)
    amount = np.round(rng.lognormal(np.log(median_amount), 0.6) / 100) * 100 * 100  # whole hundreds, in cents
    not_won = outcome != WON
    share = SHARE_INCOMPLETE * n / max(int(not_won.sum()), 1)  # ~2% of all deals, never a won one
    opps = Opportunities(
        account=account,
        account_missing=not_won & (rng.random(n) < share),
        owner=accounts.owner_on(account, created_day),
        lead=lead,
        product=np.where(rng.random(n) < 0.9, catalog.pick(rng, n), -1),
        created_ts=created_ts,
        created_missing=not_won & (rng.random(n) < share),
        entered_ts=sim["entered"],
        outcome=outcome,
        close_ts=sim["close"],
        close_day=close_day,
        stage=sim["stage"],
        updated_ts=sim["updated"],
        amount_cents=amount.astype(np.int64),
        amount_missing=not_won & (rng.random(n) < share),
        lost_reason=np.where(outcome == LOST, rng.integers(0, len(LOST_REASONS), n), -1),
    )
    _revise(opps, period, seed)
    return opps


def _revise(opps: Opportunities, period: Period, seed: int) -> None:
    """Revise ~25% of the deals once or twice while open (own random stream: every other value is
    the same with or without revisions); a revised deal was last updated at its last revision at
    the earliest."""
    rng = rng_for(seed, "revisions")
    life_end = np.where(opps.outcome == OPEN, period.end_ts, opps.close_ts)
    eligible = (life_end - opps.created_ts) >= MIN_REVISED_LIFE
    revised = np.flatnonzero(eligible & (rng.random(opps.n) < SHARE_REVISED))
    times = 1 + (rng.random(len(revised)) < SHARE_REVISED_TWICE)
    opp = np.repeat(revised, times)
    # strictly inside the deal's open life, at whole seconds
    lo, hi = opps.created_ts[opp] + 3600, life_end[opp] - 3600
    at_ts = lo + (rng.random(len(opp)) * (hi - lo)).astype(np.int64)
    order = np.lexsort((at_ts, opp))
    opp, at_ts = opp[order], at_ts[order]
    prev_amount, prev_close = _earlier_versions(rng, opps, opp)
    opps.revisions = Revisions(opp, at_ts, prev_amount, prev_close)
    np.maximum.at(opps.updated_ts, opp, at_ts)


def _earlier_versions(rng: np.random.Generator, opps: Opportunities, opp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walking back from each deal's final values, the amount and close date before each revision
    (revisions sorted by deal, then time): each changes the amount, the close date, or both."""
    n = len(opp)
    what = rng.integers(1, 4, n)  # 1: amount, 2: close date, 3: both
    factor = rng.uniform(0.7, 1.3, n)
    shift = rng.integers(7, 61, n) * np.where(rng.random(n) < SHARE_PUSHED_OUT, 1, -1)  # >0: later now
    prev_amount, prev_close = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    created_day = opps.created_ts[opp] // SECONDS_PER_DAY
    for i in range(n - 1, -1, -1):  # later revisions first: a deal's earlier version builds on the next
        later = i + 1 < n and opp[i + 1] == opp[i]
        amount = prev_amount[i + 1] if later else opps.amount_cents[opp[i]]
        close = prev_close[i + 1] if later else opps.close_day[opp[i]]
        prev_amount[i] = max(10_000, round(amount * factor[i] / 10_000) * 10_000) if what[i] & 1 else amount
        prev_close[i] = max(created_day[i] + 7, close - shift[i]) if what[i] & 2 else close
    return prev_amount, prev_close


def opportunity_ids(opportunities: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("OPP", np.asarray(opportunities) + 1, 6, null_mask)


def lead_opportunity(opps: Opportunities, n_leads: int) -> np.ndarray:
    """The opportunity each converted lead became (-1 for the other leads)."""
    result = np.full(n_leads, -1)
    has_lead = np.flatnonzero(opps.lead >= 0)
    result[opps.lead[has_lead]] = has_lead
    return result


def opportunities_table(opps: Opportunities, rows: slice) -> out.Table:
    """The deals of `rows`, each revised deal's earlier versions just before its final row."""
    idx = np.arange(opps.n)[rows]
    final = _opportunity_rows(
        opps,
        idx,
        opps.amount_cents[idx],
        opps.close_day[idx],
        opps.stage[idx],
        opps.updated_ts[idx],
        opps.lost_reason[idx],
    )
    rev = opps.revisions
    if rev is None or len(idx) == 0:
        return final
    first, last = np.searchsorted(rev.opp, [idx[0], idx[-1] + 1])
    r = np.arange(first, last)
    if len(r) == 0:
        return final
    stage, updated = _version_stage(opps, rev, r)
    earlier = _opportunity_rows(
        opps, rev.opp[r], rev.prev_amount_cents[r], rev.prev_close_day[r], stage, updated, np.full(len(r), -1)
    )
    # each deal's rows: its earlier versions in time order, then its final row (the latest row wins)
    order = np.lexsort((np.r_[np.arange(len(r)), np.full(len(idx), len(r))], np.r_[rev.opp[r], idx]))
    combined = {c: pa.concat_arrays([earlier[c], final[c]]) for c in final}
    return out.take_rows(combined, order)


def _version_stage(opps: Opportunities, rev: Revisions, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage and updated_at of the version each revision r ended, as exported just before it:
    the last ladder stage entered by then, modified last at that entry or at the version's start."""
    opp, until = rev.opp[r], rev.at_ts[r] - 1
    entered = opps.entered_ts[opp]
    reached = (entered >= 0) & (entered <= until[:, None])
    stage = np.where(reached, np.arange(N_LADDER), -1).max(axis=1)
    stage_ts = entered[np.arange(len(r)), np.maximum(stage, 0)]
    before = np.maximum(r - 1, 0)  # the deal's revision before r, if it has one, began the version
    began = np.where((r > 0) & (rev.opp[before] == opp), rev.at_ts[before], opps.created_ts[opp])
    return np.maximum(stage, 0), np.maximum(stage_ts, began)


def _opportunity_rows(
    opps: Opportunities,
    idx: np.ndarray,
    amount: np.ndarray,
    close_day: np.ndarray,
    stage: np.ndarray,
    updated_ts: np.ndarray,
    reason: np.ndarray,
) -> out.Table:
    lead, product = opps.lead[idx], opps.product[idx]
    return {
        "opportunity_id": opportunity_ids(idx),
        "owner_rep_id": rep_ids(opps.owner[idx]),
        "stage": out.pick(STAGES, stage),
        "account_id": account_ids(opps.account[idx], null_mask=opps.account_missing[idx]),
        "lead_id": lead_ids(np.maximum(lead, 0), null_mask=lead < 0),
        "product_id": out.with_nulls(product_ids(np.maximum(product, 0)), product < 0),
        "created_at": out.timestamps(opps.created_ts[idx], null_mask=opps.created_missing[idx]),
        "close_date": out.dates(close_day),
        "amount": out.money(amount, null_mask=opps.amount_missing[idx]),
        "currency": out.constant(REPORTING_CURRENCY, len(idx)),
        "lost_reason": out.pick(LOST_REASONS, np.maximum(reason, 0), null_mask=reason < 0),
        "updated_at": out.timestamps(updated_ts),
    }


def stage_history_table(opps: Opportunities, rows: slice) -> out.Table:
    """One row per stage an opportunity entered: the ladder stages it did not skip, then its close;
    with the deal's amount and expected close date as they stood then."""
    idx = np.arange(opps.n)[rows]
    entered = opps.entered_ts[rows]
    closed = opps.outcome[rows] != OPEN
    # (opportunity, stage, time) in opportunity order, then time order
    ladder_opp, ladder_stage = np.nonzero(entered >= 0)
    opp = np.concatenate([ladder_opp, np.flatnonzero(closed)])
    stage = np.concatenate([ladder_stage, opps.stage[rows][closed]])
    when = np.concatenate([entered[ladder_opp, ladder_stage], opps.close_ts[rows][closed]])
    order = np.lexsort((when, opp))
    deal, when = idx[opp[order]], when[order]
    amount, close_day = opps.amount_cents[deal], opps.close_day[deal]
    if opps.revisions is not None and len(opps.revisions.opp):
        version = opps.revisions.version_at(deal, when)
        earlier = version >= 0
        amount = np.where(earlier, opps.revisions.prev_amount_cents[version], amount)
        close_day = np.where(earlier, opps.revisions.prev_close_day[version], close_day)
    return {
        "opportunity_id": opportunity_ids(deal),
        "stage": out.pick(STAGES, stage[order]),
        "entered_at": out.timestamps(when),
        "amount": out.money(amount, null_mask=opps.amount_missing[deal]),
        "close_date": out.dates(close_day),
    }
