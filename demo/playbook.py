"""The sales playbook, followed imperfectly: touches that reps make because of a customer's
lifecycle stage (marts.md "The customer-treatment loop"), written after the everyday activities.

- About a third of the buyers get a prescribed touch 0-10 days before ordering: a visit when they
  have bought before (prescribed for new, VIP and dormant customers; active and loyal take any
  type), a call before a first purchase (prescribed for prospects). Touches that precede orders
  make treated customers order more often than untreated ones, as the playbook intends.
- About one dormant customer in seven (no completed order for more than 180 days) gets a call-back
  each month, whether or not it then buys; no one visits the rest, VIPs included, on purpose.

Its own random stream (`playbook`, per month) and activity numbers after every everyday activity,
so the other generated entities are untouched; linear in scale (a fixed share of orders and of
dormant customers)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from demo import output as out
from demo.activities import ACTIVITY_TYPES, DURATION_MINUTES, activities_table
from demo.customers import NEVER, Accounts
from demo.period import SECONDS_PER_DAY, Period, business_seconds, rng_for
from demo.vocab import ACTIVITY_OUTCOMES

SHARE_BUYERS_TOUCHED = 0.35
MAX_DAYS_BEFORE_ORDER = 10
SHARE_DORMANT_CALLED = 0.15
DORMANT_AFTER_DAYS = 180  # the lifecycle's inactive threshold (recency_days > 180)

_CALL, _VISIT = ACTIVITY_TYPES.index("call"), ACTIVITY_TYPES.index("visit")
_OUTCOME_FIRST = np.cumsum([0] + [len(ACTIVITY_OUTCOMES[t]) for t in ACTIVITY_TYPES])[:-1]
_OUTCOME_COUNT = np.array([len(ACTIVITY_OUTCOMES[t]) for t in ACTIVITY_TYPES])
_LOW = np.array([DURATION_MINUTES.get(t, (0, 0))[0] for t in ACTIVITY_TYPES])
_HIGH = np.array([DURATION_MINUTES.get(t, (0, 0))[1] for t in ACTIVITY_TYPES])


def generate_playbook_touches(
    period: Period,
    accounts: Accounts,
    completed_orders: tuple[np.ndarray, np.ndarray],
    seed: int,
    first_number: int,
    write: Callable[[str, out.Table], None],
) -> int:
    """Writes the playbook's touches month by month as activities numbered from first_number;
    completed_orders = (account, day) of every completed order in date order. Returns the count."""
    order_account, order_day = completed_orders
    last_order = np.full(accounts.n, -1)  # day of the last completed order before the month; -1: none
    first_order = np.full(accounts.n, NEVER)
    np.minimum.at(first_order, order_account, order_day)
    n_total = 0
    for m in range(period.months):
        rng = rng_for(seed, "playbook", m)
        first_day, last_day = int(period.month_starts[m]), int(period.month_starts[m + 1]) - 1
        in_month = (order_day >= first_day) & (order_day <= last_day)
        buyer, buyer_day = _first_order_per_account(order_account[in_month], order_day[in_month])
        account, day, kind = _buyer_touches(rng, buyer, buyer_day, first_order)
        dormant = np.flatnonzero((last_order >= 0) & (first_day - last_order > DORMANT_AFTER_DAYS))
        called = dormant[rng.random(len(dormant)) < SHARE_DORMANT_CALLED]
        call_day = first_day + (rng.random(len(called)) * (last_day - first_day + 1)).astype(np.int64)
        account = np.concatenate([account, called])
        day = np.concatenate([day, call_day])
        kind = np.concatenate([kind, np.full(len(called), _CALL)])
        n = _write_touches(rng, period, accounts, write, first_number + n_total, account, day, kind)
        n_total += n
        np.maximum.at(last_order, order_account[in_month], order_day[in_month])
    return n_total


def _first_order_per_account(account: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((day, account))
    account, day = account[order], day[order]
    first = np.concatenate([[True], account[1:] != account[:-1]]) if len(account) else np.zeros(0, bool)
    return account[first], day[first]


def _buyer_touches(rng, buyer, buyer_day, first_order):
    """A share of the buyers, touched 0-10 days before their first order of the month: a visit
    when they have a completed order before the touch, else a call."""
    touched = rng.random(len(buyer)) < SHARE_BUYERS_TOUCHED
    lead = (rng.random(len(buyer)) * (MAX_DAYS_BEFORE_ORDER + 1)).astype(np.int64)
    account, day = buyer[touched], (buyer_day - lead)[touched]
    return account, day, np.where(first_order[account] < day, _VISIT, _CALL).astype(np.int64)


def _write_touches(
    rng,
    period: Period,
    accounts: Accounts,
    write,
    first_number: int,
    account: np.ndarray,
    day: np.ndarray,
    kind: np.ndarray,
) -> int:
    """Outbound touches by the account's owner that day, in office hours, never before the
    account existed nor before the period began."""
    created_day = accounts.created_ts[account] // SECONDS_PER_DAY
    day = np.maximum(np.maximum(day, created_day + 1), period.start_day)
    keep = day <= period.end_day
    account, day, kind = account[keep], day[keep], kind[keep]
    order = np.lexsort((account, day))
    account, day, kind = account[order], day[order], kind[order]
    n = len(account)
    if n == 0:
        return 0
    occurred = day * SECONDS_PER_DAY + business_seconds(rng, n)
    duration = _LOW[kind] + (rng.random(n) * (_HIGH[kind] - _LOW[kind] + 1)).astype(np.int64)
    outcome = _OUTCOME_FIRST[kind] + (rng.random(n) * _OUTCOME_COUNT[kind]).astype(np.int64)
    out.write_columns(
        write,
        "activities",
        activities_table,
        (
            first_number + np.arange(n),
            accounts.owner_on(account, day),
            account,
            np.full(n, -1),
            kind,
            np.zeros(n, np.int64),
            occurred,
            occurred,
            np.ones(n, bool),
            duration,
            outcome,
        ),
    )
    return n
