"""Sales activities (calls, visits, meetings, demos, e-mails), one month at a time: each rep works
on the working days of their employment, at their own pace, mostly on their own accounts."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.customers import Accounts, account_ids
from demo.org import Org, rep_ids
from demo.period import SECONDS_PER_DAY, Groups, Period, business_seconds, rng_for, weekday
from demo.pipeline import OPEN, Opportunities, opportunity_ids
from demo.vocab import ACTIVITY_KINDS, ACTIVITY_OUTCOMES

ACTIVITY_TYPES = ("call", "visit", "meeting", "email", "demo")
DIRECTIONS = ("outbound", "inbound")
# minutes (low, high) by activity type; e-mails have none
DURATION_MINUTES = {"call": (1, 30), "visit": (30, 150), "meeting": (20, 120), "demo": (30, 90)}
SHARE_INBOUND_UNANSWERED = 0.12
SHARE_LINKED_TO_DEAL = 0.5  # of visits, meetings and demos


def activity_ids(numbers: np.ndarray) -> pa.Array:
    return out.ids("ACT", np.asarray(numbers) + 1, 8)


_OUTCOMES = [o for t in ACTIVITY_TYPES for o in ACTIVITY_OUTCOMES[t]]  # outcome index -> text


def activities_table(
    numbers, rep, account, deal, activity_type, direction, occurred, responded, unanswered, duration, outcome
) -> out.Table:
    is_email = activity_type == ACTIVITY_TYPES.index("email")
    return {
        "activity_id": activity_ids(numbers),
        "rep_id": rep_ids(rep),
        "account_id": account_ids(np.maximum(account, 0), null_mask=account < 0),
        "opportunity_id": opportunity_ids(np.maximum(deal, 0), null_mask=deal < 0),
        "activity_type": out.pick(ACTIVITY_TYPES, activity_type),
        "direction": out.pick(DIRECTIONS, direction),
        "occurred_at": out.timestamps(occurred),
        "responded_at": out.timestamps(responded, null_mask=unanswered),
        "duration_minutes": out.integers(duration, null_mask=is_email),
        "outcome": out.pick(_OUTCOMES, outcome),
    }


def rep_activity_level(org: Org, seed: int) -> np.ndarray:
    """How busy each rep is relative to the average (some reps visit far more than others)."""
    return rng_for(seed, "activity-level").lognormal(0.0, 0.3, org.n_reps)


def generate_activities(
    period: Period,
    org: Org,
    accounts: Accounts,
    opps: Opportunities,
    seed: int,
    write: Callable[[str, out.Table], None],
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Writes activities month by month; returns visits per rep and month (for visit targets)
    and the number of activities."""
    level = rep_activity_level(org, seed)
    reps = np.arange(org.n_reps)
    all_accounts = np.arange(accounts.n)
    both_owners = accounts.init_owner != accounts.owner
    rep_accounts = Groups(
        np.concatenate([accounts.init_owner, accounts.owner[both_owners]]),
        np.concatenate([all_accounts, all_accounts[both_owners]]),
        org.n_reps,
    )
    rep_deals = Groups(opps.owner, np.arange(opps.n), org.n_reps)
    days = np.arange(period.start_day, period.end_day + 1)
    workdays = days[weekday(days) < 5]
    # workdays_before[d - start] = number of working days before day d
    workdays_before = np.concatenate([[0], np.cumsum(weekday(days) < 5)])
    visits = np.zeros((org.n_reps, period.months), dtype=np.int64)
    visit_kind = [i for i, (t, _, _) in enumerate(ACTIVITY_KINDS) if t == "visit"][0]
    n_total = 0

    for m in range(period.months):
        rng = rng_for(seed, "activities", m)
        first_day, last_day = int(period.month_starts[m]), int(period.month_starts[m + 1]) - 1
        lo = np.maximum(org.rep_hire_day, first_day)
        hi = np.minimum(org.rep_end_day, last_day)
        lo_k = workdays_before[np.clip(lo - period.start_day, 0, len(days))]
        hi_k = workdays_before[np.clip(hi + 1 - period.start_day, 0, len(days))]
        working = np.maximum(hi_k - lo_k, 0)
        rates = np.array([rate for _, _, rate in ACTIVITY_KINDS])
        counts = rng.poisson(np.outer(working * level, rates))  # (reps, kinds)
        rep = np.repeat(np.repeat(reps, len(ACTIVITY_KINDS)), counts.ravel())
        kind = np.repeat(np.tile(np.arange(len(ACTIVITY_KINDS)), org.n_reps), counts.ravel())
        visits[:, m] = counts[:, visit_kind]
        n = len(rep)
        day = workdays[lo_k[rep] + (rng.random(n) * working[rep]).astype(np.int64)]
        occurred = day * SECONDS_PER_DAY + business_seconds(rng, n)
        if m == period.months - 1 and (n == 0 or day.max() < period.end_day):
            # the data set's last day carries an event, so its as_of date is the period's end
            rep = np.append(rep, org.team_manager[0])
            kind = np.append(kind, 1)  # an outbound e-mail
            day = np.append(day, period.end_day)
            occurred = np.append(occurred, period.end_day * SECONDS_PER_DAY + 17 * 3600)
            n += 1
        order = np.lexsort((rep, occurred))
        rep, kind, day, occurred = rep[order], kind[order], day[order], occurred[order]

        activity_type = np.array([ACTIVITY_TYPES.index(t) for t, _, _ in ACTIVITY_KINDS])[kind]
        direction = np.array([DIRECTIONS.index(d) for _, d, _ in ACTIVITY_KINDS])[kind]
        # a deal of the rep that is open at that moment, for some visits, meetings and demos
        deal = rep_deals.pick(rng, rep)
        safe_deal = np.maximum(deal, 0)
        deal_open = (
            (deal >= 0)
            & (opps.created_ts[safe_deal] <= occurred)
            & ((opps.outcome[safe_deal] == OPEN) | (opps.close_ts[safe_deal] >= occurred))
        )
        deal_type = np.isin(activity_type, [ACTIVITY_TYPES.index(t) for t in ("visit", "meeting", "demo")])
        deal = np.where(deal_open & deal_type & (rng.random(n) < SHARE_LINKED_TO_DEAL), deal, -1)
        account = rep_accounts.pick(rng, rep)
        account = np.where(deal >= 0, opps.account[np.maximum(deal, 0)], account)
        account = np.where((account >= 0) & (accounts.created_ts[np.maximum(account, 0)] > occurred), -1, account)

        inbound = direction == 1
        responded = occurred + (rng.lognormal(np.log(3.0), 1.0, n) * 3600).astype(np.int64)
        unanswered = ~inbound | (rng.random(n) < SHARE_INBOUND_UNANSWERED) | (responded > period.end_ts)
        low = np.array([DURATION_MINUTES.get(t, (0, 0))[0] for t in ACTIVITY_TYPES])[activity_type]
        high = np.array([DURATION_MINUTES.get(t, (0, 0))[1] for t in ACTIVITY_TYPES])[activity_type]
        duration = low + (rng.random(n) * (high - low + 1)).astype(np.int64)
        outcome_first = np.cumsum([0] + [len(ACTIVITY_OUTCOMES[t]) for t in ACTIVITY_TYPES])[:-1]
        outcome_count = np.array([len(ACTIVITY_OUTCOMES[t]) for t in ACTIVITY_TYPES])
        outcome = outcome_first[activity_type] + (rng.random(n) * outcome_count[activity_type]).astype(np.int64)
        out.write_columns(
            write,
            "activities",
            activities_table,
            (
                n_total + np.arange(n),
                rep,
                account,
                deal,
                activity_type,
                direction,
                occurred,
                responded,
                unanswered,
                duration,
                outcome,
            ),
        )
        n_total += n
        if progress:
            progress("activities", m + 1, period.months)
    return visits, n_total
