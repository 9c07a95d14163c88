"""Orders and what follows them, one calendar month at a time (memory stays flat at any scale):
order_lines, returns, service cases and survey responses.

Customers order as a Poisson process at their own rate between their first order (or the start of
the period for the existing base) and their churn day; won deals add an order on their close date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.catalog import Catalog, product_ids
from demo.customers import NEVER, Accounts, account_ids, contact_ids
from demo.org import Org, rep_ids
from demo.period import (
    SECONDS_PER_DAY,
    DaySampler,
    Groups,
    Period,
    business_seconds,
    rng_for,
    weighted_choice,
)
from demo.pipeline import WON, Opportunities, opportunity_ids
from demo.vocab import (
    CASE_CATEGORIES,
    CASE_CATEGORY_WEIGHTS,
    CASE_CHANNEL_WEIGHTS,
    CASE_CHANNELS,
    CASE_SEVERITIES,
    CASE_SEVERITY_WEIGHTS,
    ORDER_CHANNEL_WEIGHTS,
    ORDER_CHANNELS,
    REPORTING_CURRENCY,
    RETURN_REASONS,
    SURVEY_COMMENTS_BAD,
    SURVEY_COMMENTS_GOOD,
)

# ~1,100 orders a month at scale 1 with ~2.3 lines each: ~60,000 order lines over 24 months
ORDERS_PER_SCALE_MONTH = 1100
LINES_PER_ORDER_WEIGHTS = (0.35, 0.28, 0.18, 0.12, 0.07)  # 1..5 lines
ORDER_STATUSES = ("completed", "cancelled", "pending")
COMPLETED, CANCELLED, PENDING = 0, 1, 2
SHARE_ORDERS_WITHOUT_REP = 0.15  # attributed to the account owner
NO_CHANNEL_EVERY = 25  # one order in 25 has no channel
SHARE_LINES_DISCOUNTED = 0.18
SHARE_LINES_RETURNED = 0.03
SHARE_ORDERS_WITH_CASE = 0.07
SHARE_ORDERS_SURVEYED = 0.08
SHARE_RESOLVED_CASES_SURVEYED = 0.45
SHARE_ACCOUNTS_RELATIONSHIP_SURVEY = 0.04  # per quarter
SURVEY_TYPES = ("nps", "csat")
CASE_STATUSES = ("open", "in_progress", "resolved")


def order_ids(orders: np.ndarray) -> pa.Array:
    return out.ids("SO", np.asarray(orders) + 1, 8)


def case_ids(cases: np.ndarray) -> pa.Array:
    return out.ids("CS", np.asarray(cases) + 1, 7)


def response_ids(responses: np.ndarray) -> pa.Array:
    return out.ids("SR", np.asarray(responses) + 1, 8)


def return_ids(returns: np.ndarray) -> pa.Array:
    return out.ids("RT", np.asarray(returns) + 1, 7)


@dataclass
class SalesTotals:
    """What later steps need from the orders: per rep and month (targets), id counters
    (next-day files) and the pending orders (dirty mode re-sends them with a newer status)."""

    rep_month_net_cents: np.ndarray
    rep_month_new_customers: np.ndarray
    counters: dict[str, int] = field(default_factory=dict)
    pending_orders: list[out.Table] = field(default_factory=list)
    last_completed_orders: out.Table | None = None
    # (account, day) of every completed order, in date order: the playbook touches its buyers
    completed_accounts: list[np.ndarray] = field(default_factory=list)
    completed_days: list[np.ndarray] = field(default_factory=list)

    def completed_orders(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.completed_accounts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(self.completed_accounts), np.concatenate(self.completed_days)


def scaled_order_rates(period: Period, accounts: Accounts, opps: Opportunities, scale: float) -> np.ndarray:
    """Per-account orders per unit of demand, scaled so the period holds ~900 x scale orders a month."""
    sampler = DaySampler(period)
    lo = np.maximum(period.start_day, accounts.first_active_day + 1)
    hi = np.minimum(accounts.churn_day, period.end_day)
    expected = float((accounts.order_rate * sampler.mass(lo, hi)).sum())
    target = ORDERS_PER_SCALE_MONTH * scale * period.months
    repeat_orders = max(target - int((opps.outcome == WON).sum()), 0.1 * target)
    return accounts.order_rate * (repeat_orders / expected if expected > 0 else 0.0)


def order_lines_for(rng: np.random.Generator, catalog: Catalog, n_orders: int):
    """Lines for n orders: (order position, line number, product, quantity, unit price, discount
    cents with -1 = empty, net cents)."""
    n_lines = weighted_choice(rng, LINES_PER_ORDER_WEIGHTS, n_orders) + 1
    position = np.repeat(np.arange(n_orders), n_lines)
    first_line = np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    line_number = np.arange(len(position)) - first_line + 1
    product = catalog.pick(rng, len(position))
    quantity = 1 + rng.poisson(np.maximum(catalog.mean_quantity[product] - 1, 0))
    price = np.round(catalog.list_price_cents[product] * np.clip(rng.normal(1.0, 0.03, len(position)), 0.85, 1.1))
    price = price.astype(np.int64)
    gross = quantity * price
    draw = rng.random(len(position))
    discount = np.where(
        draw < SHARE_LINES_DISCOUNTED,
        np.round(gross * rng.uniform(0.02, 0.15, len(position))).astype(np.int64),
        np.where(draw < SHARE_LINES_DISCOUNTED + 0.05, 0, -1),
    )  # some explicit 0.00
    net = gross - np.maximum(discount, 0)
    return position, line_number, product, quantity, price, discount, net


def fit_to_deals(position, quantity, price, discount, deal_amount_cents):
    """Scale the quantities of orders that fulfil a won deal so their value comes close to the
    deal's amount (deal_amount_cents per order, -1 for other orders); discounts scale along.
    Returns the new quantity, discount and net cents per line."""
    order_gross = np.bincount(position, weights=quantity * price, minlength=len(deal_amount_cents))
    factor = np.where(deal_amount_cents >= 0, deal_amount_cents / np.maximum(order_gross, 1.0), 1.0)[position]
    fitted = np.where(factor != 1.0, np.maximum(1, np.round(quantity * factor)), quantity).astype(np.int64)
    discount = np.where(discount >= 0, np.round(discount * fitted / quantity), discount).astype(np.int64)
    return fitted, discount, fitted * price - np.maximum(discount, 0)


def orders_table(numbers, account, rep, opportunity, day, status, channel) -> out.Table:
    # some orders are keyed in without their channel (exports.md: channel is optional)
    no_channel = np.asarray(numbers) % NO_CHANNEL_EVERY == NO_CHANNEL_EVERY - 1
    return {
        "order_id": order_ids(numbers),
        "account_id": account_ids(account),
        "rep_id": rep_ids(np.maximum(rep, 0), null_mask=rep < 0),
        "opportunity_id": opportunity_ids(np.maximum(opportunity, 0), null_mask=opportunity < 0),
        "order_date": out.dates(day),
        "status": out.pick(ORDER_STATUSES, status),
        "channel": out.pick(ORDER_CHANNELS, channel, null_mask=no_channel),
        "currency": out.constant(REPORTING_CURRENCY, len(numbers)),
    }


def order_lines_table(order_numbers, line_number, product, quantity, price, discount) -> out.Table:
    return {
        "order_id": order_ids(order_numbers),
        "line_number": out.integers(line_number),
        "product_id": product_ids(product),
        "quantity": out.integers(quantity),
        "unit_price": out.money(price),
        "discount_amount": out.money(np.maximum(discount, 0), null_mask=discount < 0),
    }


def nps_scores(rng, satisfaction: np.ndarray) -> np.ndarray:
    return np.clip(np.round(8.0 + 1.4 * satisfaction + rng.normal(0, 1.3, len(satisfaction))), 0, 10).astype(np.int64)


def survey_comments(rng, survey_type: np.ndarray, score: np.ndarray) -> pa.Array:
    """Mostly empty; praise from promoters / satisfied, complaints from detractors / unsatisfied."""
    n = len(score)
    good = np.where(survey_type == 0, score >= 9, score >= 4)
    bad = np.where(survey_type == 0, score <= 6, score <= 2)
    has_comment = (good | bad) & (rng.random(n) < 0.35)
    vocabulary = SURVEY_COMMENTS_GOOD + SURVEY_COMMENTS_BAD
    pick = np.where(
        good,
        rng.integers(0, len(SURVEY_COMMENTS_GOOD), n),
        len(SURVEY_COMMENTS_GOOD) + rng.integers(0, len(SURVEY_COMMENTS_BAD), n),
    )
    return out.pick(vocabulary, pick, null_mask=~has_comment)


def surveys_table(numbers, survey_type, submitted_ts, score, account, contact, order, case, comment) -> out.Table:
    return {
        "response_id": response_ids(numbers),
        "survey_type": out.pick(SURVEY_TYPES, survey_type),
        "submitted_at": out.timestamps(submitted_ts),
        "score": out.integers(score),
        "account_id": account_ids(account),
        "contact_id": contact_ids(np.maximum(contact, 0), null_mask=contact < 0),
        "order_id": out.with_nulls(order_ids(np.maximum(order, 0)), order < 0),
        "case_id": out.with_nulls(case_ids(np.maximum(case, 0)), case < 0),
        "comment": comment,
    }


def generate_sales(
    period: Period,
    org: Org,
    accounts: Accounts,
    contacts_of_account: Groups,
    catalog: Catalog,
    opps: Opportunities,
    scale: float,
    seed: int,
    write: Callable[[str, out.Table], None],
    progress: Callable[[str, int, int], None] | None = None,
) -> SalesTotals:
    """Writes orders, order_lines, returns, cases and survey_responses month by month."""
    sampler = DaySampler(period)
    rates = scaled_order_rates(period, accounts, opps, scale)
    customers = np.flatnonzero(accounts.first_active_day < NEVER)
    repeat_lo = np.maximum(period.start_day, accounts.first_active_day[customers] + 1)
    repeat_hi = np.minimum(accounts.churn_day[customers], period.end_day)
    won = np.flatnonzero(opps.outcome == WON)
    won = won[np.argsort(opps.close_day[won], kind="stable")]
    month_starts = period.month_starts

    totals = SalesTotals(
        rep_month_net_cents=np.zeros((org.n_reps, period.months), dtype=np.int64),
        rep_month_new_customers=np.zeros((org.n_reps, period.months), dtype=np.int64),
    )
    first_completed_day = np.full(accounts.n, NEVER)
    n_orders = n_returns = n_cases = n_responses = 0

    for m in range(period.months):
        rng = rng_for(seed, "sales", m)
        first_day, last_day = int(month_starts[m]), int(month_starts[m + 1]) - 1

        # --- orders: repeat purchases + the orders of deals won this month, ids in date order
        lo = np.maximum(repeat_lo, first_day)
        hi = np.minimum(repeat_hi, last_day)
        count = rng.poisson(rates[customers] * sampler.mass(lo, hi))
        account = np.repeat(customers, count)
        day = sampler.sample(rng, np.repeat(lo, count), np.repeat(hi, count))
        won_now = won[(opps.close_day[won] >= first_day) & (opps.close_day[won] <= last_day)]
        opportunity = np.concatenate([np.full(len(account), -1), won_now])
        account = np.concatenate([account, opps.account[won_now]])
        day = np.concatenate([day, opps.close_day[won_now]])
        order = np.lexsort((rng.random(len(day)), day))
        account, day, opportunity = account[order], day[order], opportunity[order]
        n = len(account)
        numbers = n_orders + np.arange(n)
        n_orders += n

        from_deal = opportunity >= 0
        rep = accounts.owner_on(account, day)
        rep = np.where(~from_deal & (rng.random(n) < SHARE_ORDERS_WITHOUT_REP), -1, rep)
        recent = (period.end_day - day) < 7
        draw = rng.random(n)
        status = np.where(recent & (draw < 0.6), PENDING, np.where(draw > 0.96, CANCELLED, COMPLETED))
        status = np.where(from_deal, COMPLETED, status)
        columns = (numbers, account, rep, opportunity, day, status, weighted_choice(rng, ORDER_CHANNEL_WEIGHTS, n))
        out.write_columns(write, "orders", orders_table, columns)
        if (status == PENDING).any():
            totals.pending_orders.append(orders_table(*(c[status == PENDING] for c in columns)))
        if (status == COMPLETED).any():
            last_completed = np.flatnonzero(status == COMPLETED)[-50:]
            totals.last_completed_orders = orders_table(*(c[last_completed] for c in columns))

        # --- lines; orders of won deals come close to the deal amount
        position, line_number, product, quantity, price, discount, net = order_lines_for(rng, catalog, n)
        deal_amount = np.where(from_deal, opps.amount_cents[np.maximum(opportunity, 0)], -1)
        quantity, discount, net = fit_to_deals(position, quantity, price, discount, deal_amount)
        out.write_columns(
            write,
            "order_lines",
            order_lines_table,
            (numbers[position], line_number, product, quantity, price, discount),
        )

        # --- what targets need: net sales and new customers per rep (attributed as in marts.md)
        completed = status == COMPLETED
        totals.completed_accounts.append(account[completed])
        totals.completed_days.append(day[completed])
        attributed = np.where(rep >= 0, rep, accounts.owner[account])
        line_completed = completed[position]
        totals.rep_month_net_cents[:, m] += np.bincount(
            attributed[position[line_completed]], weights=net[line_completed], minlength=org.n_reps
        ).astype(np.int64)
        done = np.flatnonzero(completed)
        first_time = done[first_completed_day[account[done]] == NEVER]
        _, first_of_account = np.unique(account[first_time], return_index=True)  # orders are in date order
        newcomers = first_time[first_of_account]
        first_completed_day[account[newcomers]] = day[newcomers]
        totals.rep_month_new_customers[:, m] += np.bincount(attributed[newcomers], minlength=org.n_reps)

        n_returns += _write_returns(
            rng, period, write, n_returns, numbers[position], line_number, day[position], quantity, net, line_completed
        )
        cases = _write_cases(rng, period, accounts, write, n_cases, account[done], day[done])
        n_cases += len(cases.number)
        n_responses += _write_surveys(
            rng,
            period,
            accounts,
            contacts_of_account,
            write,
            n_responses,
            m,
            first_day,
            last_day,
            account[done],
            day[done],
            numbers[done],
            cases,
        )
        if progress:
            progress("orders", m + 1, period.months)

    totals.counters = {"orders": n_orders, "returns": n_returns, "cases": n_cases, "survey_responses": n_responses}
    return totals


def _write_returns(
    rng, period: Period, write, first_number: int, line_order, line_number, line_day, quantity, net, completed
) -> int:
    """A few completed lines come back days or weeks later (sometimes in a later month), partly or
    fully refunded; returns the number written."""
    returned = np.flatnonzero(completed & (rng.random(len(line_order)) < SHARE_LINES_RETURNED))
    return_day = line_day[returned] + 2 + rng.geometric(1 / 12, len(returned))
    returned, return_day = returned[return_day <= period.end_day], return_day[return_day <= period.end_day]
    return_qty = 1 + (rng.random(len(returned)) * quantity[returned]).astype(np.int64)
    write(
        "returns",
        {
            "return_id": return_ids(first_number + np.arange(len(returned))),
            "order_id": order_ids(line_order[returned]),
            "line_number": out.integers(line_number[returned]),
            "return_date": out.dates(return_day),
            "quantity": out.integers(return_qty),
            "refund_amount": out.money(net[returned] * return_qty // quantity[returned]),
            "reason": out.pick(RETURN_REASONS, rng.integers(0, len(RETURN_REASONS), len(returned))),
        },
    )
    return len(returned)


@dataclass(frozen=True)
class _Cases:
    number: np.ndarray
    account: np.ndarray
    category: np.ndarray
    resolved_ts: np.ndarray
    unresolved: np.ndarray


def _write_cases(
    rng, period: Period, accounts: Accounts, write, first_number: int, order_account: np.ndarray, order_day: np.ndarray
) -> _Cases:
    """Service cases opened after some completed orders; most answered within hours, some after
    more than a day, a few never; resolved a day or two later."""
    with_case = np.flatnonzero(rng.random(len(order_account)) < SHARE_ORDERS_WITH_CASE)
    opened = (order_day[with_case] + 1 + rng.geometric(1 / 10, len(with_case))) * SECONDS_PER_DAY + business_seconds(
        rng, len(with_case)
    )
    keep = opened <= period.end_ts
    with_case, opened = with_case[keep], opened[keep]
    k = len(with_case)
    account = order_account[with_case]
    category = weighted_choice(rng, CASE_CATEGORY_WEIGHTS, k)
    severity = weighted_choice(rng, CASE_SEVERITY_WEIGHTS, k)
    response_hours = rng.lognormal(np.log(5.0) - 0.5 * severity, 1.2)
    first_response = opened + (response_hours * 3600).astype(np.int64)
    # a few are never answered; recent ones may not be answered yet
    no_response = (rng.random(k) < 0.015) | (first_response > period.end_ts)
    resolved = first_response + (rng.lognormal(np.log(36.0), 1.0, k) * 3600).astype(np.int64)
    unresolved = no_response | (resolved > period.end_ts)
    number = first_number + np.arange(k)
    write(
        "cases",
        {
            "case_id": case_ids(number),
            "account_id": account_ids(account),
            "opened_at": out.timestamps(opened),
            "category": out.pick(CASE_CATEGORIES, category),
            "severity": out.pick(CASE_SEVERITIES, severity),
            "channel": out.pick(CASE_CHANNELS, weighted_choice(rng, CASE_CHANNEL_WEIGHTS, k)),
            "owner_rep_id": rep_ids(accounts.owner[account]),
            "first_response_at": out.timestamps(first_response, null_mask=no_response),
            "resolved_at": out.timestamps(resolved, null_mask=unresolved),
            "status": out.pick(CASE_STATUSES, np.where(no_response, 0, np.where(unresolved, 1, 2))),
        },
    )
    return _Cases(number, account, category, resolved, unresolved)


def _write_surveys(
    rng,
    period: Period,
    accounts: Accounts,
    contacts_of_account: Groups,
    write,
    first_number: int,
    month: int,
    first_day: int,
    last_day: int,
    order_account,
    order_day,
    order_number,
    cases: _Cases,
) -> int:
    """NPS a few days after some completed orders, CSAT after some resolved cases, and a quarterly
    relationship NPS to some customers; scores follow each account's satisfaction."""
    surveyed = np.flatnonzero(rng.random(len(order_account)) < SHARE_ORDERS_SURVEYED)
    nps_ts = (order_day[surveyed] + rng.integers(3, 21, len(surveyed))) * SECONDS_PER_DAY + business_seconds(
        rng, len(surveyed)
    )
    surveyed, nps_ts = surveyed[nps_ts <= period.end_ts], nps_ts[nps_ts <= period.end_ts]
    csat_case = np.flatnonzero(~cases.unresolved & (rng.random(len(cases.number)) < SHARE_RESOLVED_CASES_SURVEYED))
    csat_ts = cases.resolved_ts[csat_case] + rng.integers(3600, 3 * SECONDS_PER_DAY, len(csat_case))
    csat_case, csat_ts = csat_case[csat_ts <= period.end_ts], csat_ts[csat_ts <= period.end_ts]
    relationship = np.zeros(0, dtype=np.int64)
    if (month + 1) % 3 == 0:
        eligible = np.flatnonzero(
            (accounts.first_active_day <= last_day) & (accounts.created_ts < first_day * SECONDS_PER_DAY)
        )
        relationship = eligible[rng.random(len(eligible)) < SHARE_ACCOUNTS_RELATIONSHIP_SURVEY]
    rel_ts = rng.integers(first_day, last_day + 1, len(relationship)) * SECONDS_PER_DAY + business_seconds(
        rng, len(relationship)
    )

    source = np.repeat([0, 1, 2], [len(surveyed), len(csat_case), len(relationship)])  # order, case, account
    account = np.concatenate([order_account[surveyed], cases.account[csat_case], relationship])
    satisfaction = accounts.satisfaction[account]
    complaint = np.concatenate([np.zeros(len(surveyed)), cases.category[csat_case] == 0, np.zeros(len(relationship))])
    survey_type = (source == 1).astype(np.int64)  # index into SURVEY_TYPES: CSAT for cases
    noise = rng.normal(0, 0.8, len(satisfaction))
    csat = np.clip(np.round(4.0 + 0.6 * satisfaction - 0.6 * complaint + noise), 1, 5)
    score = np.where(survey_type == 1, csat, nps_scores(rng, satisfaction)).astype(np.int64)
    named = rng.random(len(source)) < np.array([0.7, 0.5, 1.0])[source]  # who answered, when known
    contact = np.where(named, contacts_of_account.pick(rng, account), -1)  # every account has one
    order_ref, case_ref = np.full(len(source), -1), np.full(len(source), -1)
    order_ref[source == 0] = order_number[surveyed]
    case_ref[source == 1] = cases.number[csat_case]
    submitted = np.concatenate([nps_ts, csat_ts, rel_ts])
    write(
        "survey_responses",
        surveys_table(
            first_number + np.arange(len(source)),
            survey_type,
            submitted,
            score,
            account,
            contact,
            order_ref,
            case_ref,
            survey_comments(rng, survey_type, score),
        ),
    )
    return len(source)
