"""Budgets, expenses and targets.

Budgets plan each team's monthly spend per category from its headcount; actual spend follows the
plan with noise and a per (team, category) habit: most stay within 5%, some overspend, some
underspend. Targets are set from each rep's sales and visits with a per-team ambition, so some
teams beat their targets and others miss; the satisfaction targets (CSAT rate and NPS) are a
per-team service standard, the same for the team and each of its reps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.org import Org, rep_ids, team_ids
from demo.period import Groups, Period, add_months, rng_for
from demo.vocab import EXPENSE_DESCRIPTIONS, EXPENSE_PLAN_PER_REP, REPORTING_CURRENCY
from ingestion.canonical import EXPENSE_CATEGORIES, TARGET_METRICS

OVERSPEND, UNDERSPEND = 1.15, 0.85
SHARE_OVERSPENDING, SHARE_UNDERSPENDING = 0.15, 0.15
# the service standard each team is held to (marts.md csat_target, nps_target): a CSAT rate (a
# fraction) and an NPS, drawn per team from these ranges; its reps share the team's standard
CSAT_TARGET_RANGE, NPS_TARGET_RANGE = (0.80, 0.92), (20, 45)
PERSONNEL = EXPENSE_CATEGORIES.index("personnel")
# targets are set this many months past the data (marts.md: the forecast looks two months ahead)
TARGET_MONTHS_AHEAD = 2


@dataclass(frozen=True)
class Expenses:
    day: np.ndarray
    team: np.ndarray
    category: np.ndarray
    cents: np.ndarray
    rep: np.ndarray  # -1 = none
    description: np.ndarray  # index into the flattened EXPENSE_DESCRIPTIONS

    @property
    def n(self) -> int:
        return len(self.day)

    def table(self, rows: slice) -> out.Table:
        rep = self.rep[rows]
        descriptions = [d for c in EXPENSE_CATEGORIES for d in EXPENSE_DESCRIPTIONS[c]]
        return {
            "expense_id": expense_ids(np.arange(self.n)[rows]),
            "expense_date": out.dates(self.day[rows]),
            "team_id": team_ids(self.team[rows]),
            "category": out.pick(EXPENSE_CATEGORIES, self.category[rows]),
            "amount": out.money(self.cents[rows]),
            "rep_id": rep_ids(np.maximum(rep, 0), null_mask=rep < 0),
            "description": out.pick(descriptions, self.description[rows]),
            "currency": out.constant(REPORTING_CURRENCY, len(rep)),
        }


@dataclass(frozen=True)
class Plan:
    budgets: out.Sheet
    expenses: Expenses
    targets: out.Sheet


def employment_days(org: Org, period: Period) -> np.ndarray:
    """(reps, months): days each rep was employed in each month."""
    starts, ends = period.month_starts[:-1], period.month_starts[1:] - 1
    lo = np.maximum(org.rep_hire_day[:, None], starts[None, :])
    hi = np.minimum(org.rep_end_day[:, None], ends[None, :])
    return np.maximum(hi - lo + 1, 0)


def expense_ids(numbers: np.ndarray) -> pa.Array:
    return out.ids("EX", np.asarray(numbers) + 1, 7)


def _month_text(period: Period) -> list[str]:
    return [str(np.datetime64(int(d), "D"))[:7] for d in period.month_starts[:-1]]


def build_plan(
    period: Period,
    org: Org,
    seed: int,
    rep_month_net_cents: np.ndarray,
    rep_month_new_customers: np.ndarray,
    rep_month_visits: np.ndarray,
) -> Plan:
    rng = rng_for(seed, "planning")
    employed = employment_days(org, period)
    habit = _spending_habits(rng, org.n_teams)
    planned = _planned_spend(rng, period, org, employed)
    expenses = _expenses(rng, period, org, employed, planned, habit)
    budgets = _budgets(period, planned)
    targets = _targets(
        rng, org, employed, _month_text(period), rep_month_net_cents, rep_month_new_customers, rep_month_visits
    )
    return Plan(budgets=budgets, expenses=expenses, targets=targets)


def _spending_habits(rng, n_teams: int) -> np.ndarray:
    """(teams, categories): actual spend relative to plan; at least one team over and one under."""
    habit = rng.normal(1.0, 0.02, (n_teams, len(EXPENSE_CATEGORIES)))
    draw = rng.random(habit.shape)
    habit[draw < SHARE_OVERSPENDING] = OVERSPEND
    habit[draw > 1 - SHARE_UNDERSPENDING] = UNDERSPEND
    habit[:, PERSONNEL] = 1.0  # salaries are what they are
    habit[0, EXPENSE_CATEGORIES.index("travel")] = OVERSPEND
    habit[1, EXPENSE_CATEGORIES.index("marketing")] = UNDERSPEND
    return habit


def _planned_spend(rng, period: Period, org: Org, employed: np.ndarray) -> np.ndarray:
    """(teams, months, categories) in cents: personnel = the salaries of the staff at the month's
    start; the other categories a fixed amount per head."""
    n_teams, n_months = org.n_teams, period.months
    days_in_month = np.diff(period.month_starts)
    at_month_start = (org.rep_hire_day[:, None] <= period.month_starts[None, :-1]) & (
        org.rep_end_day[:, None] >= period.month_starts[None, :-1]
    )
    personnel = np.zeros((n_teams, n_months))
    np.add.at(personnel, org.rep_team, org.rep_monthly_salary_cents[:, None] * at_month_start)
    personnel *= rng.uniform(0.98, 1.04, (n_teams, n_months))
    headcount = np.zeros((n_teams, n_months))
    np.add.at(headcount, org.rep_team, employed / days_in_month[None, :])
    per_rep = np.array([EXPENSE_PLAN_PER_REP.get(c, 0.0) for c in EXPENSE_CATEGORIES]) * 100  # cents
    planned = headcount[:, :, None] * per_rep[None, None, :]
    planned[:, :, PERSONNEL] = personnel
    return planned


def _budgets(period: Period, planned: np.ndarray) -> out.Sheet:
    """Every (month, team, category), in whole hundreds of CNY."""
    n_teams, n_months, n_cat = planned.shape
    team, month, category = (
        a.ravel() for a in np.meshgrid(np.arange(n_teams), np.arange(n_months), np.arange(n_cat), indexing="ij")
    )
    budget_cents = (np.round(planned / 10_000) * 10_000).astype(np.int64)
    return {
        "month": out.pick(_month_text(period), month),
        "team_id": team_ids(team),
        "category": out.pick(EXPENSE_CATEGORIES, category),
        "budget_amount": budget_cents[team, month, category] // 100,  # whole CNY
        "currency": out.constant(REPORTING_CURRENCY, len(team)),
    }


def _expenses(rng, period: Period, org: Org, employed: np.ndarray, planned: np.ndarray, habit: np.ndarray) -> Expenses:
    """Salaries (one row per employed rep and month, on the 25th) and, for the other categories,
    the plan x the team's habit x noise, paid in a few bills a month."""
    days_in_month = np.diff(period.month_starts)
    pay_rep, pay_month = np.nonzero(employed > 0)
    salary_cents = np.round(
        org.rep_monthly_salary_cents[pay_rep] * employed[pay_rep, pay_month] / days_in_month[pay_month]
    ).astype(np.int64)
    pay_day = period.month_starts[pay_month] + np.minimum(24, days_in_month[pay_month] - 1)

    actual = planned * habit[:, None, :] * rng.normal(1.0, 0.05, planned.shape)
    actual[:, :, PERSONNEL] = 0  # the salary rows are the personnel actuals
    team, month, category = np.nonzero(actual > 0)
    bill_group = np.repeat(np.arange(len(team)), 1 + rng.poisson(1.5, len(team)))
    share = rng.gamma(1.0, 1.0, len(bill_group))
    share /= np.bincount(bill_group, weights=share)[bill_group]
    bill_cents = np.round(actual[team, month, category][bill_group] * share).astype(np.int64)
    bill_team, bill_month, bill_category = team[bill_group], month[bill_group], category[bill_group]
    day_offset = (rng.random(len(bill_group)) * days_in_month[bill_month]).astype(np.int64)
    bill_day = period.month_starts[bill_month] + day_offset
    # travel and incentives name the rep (a rep of the team, when employed that month)
    candidate = Groups(org.rep_team, np.arange(org.n_reps), org.n_teams).pick(rng, bill_team)
    names_rep = np.isin(bill_category, [EXPENSE_CATEGORIES.index("travel"), EXPENSE_CATEGORIES.index("incentives")])
    bill_rep = np.where(names_rep & (employed[candidate, bill_month] > 0), candidate, -1)

    day = np.concatenate([pay_day, bill_day])
    team = np.concatenate([org.rep_team[pay_rep], bill_team])
    category = np.concatenate([np.full(len(pay_rep), PERSONNEL), bill_category])
    rep = np.concatenate([pay_rep, bill_rep])
    order = np.lexsort((rep, category, team, day))
    category = category[order]
    description_first = np.cumsum([0] + [len(EXPENSE_DESCRIPTIONS[c]) for c in EXPENSE_CATEGORIES])[:-1]
    description_count = np.array([len(EXPENSE_DESCRIPTIONS[c]) for c in EXPENSE_CATEGORIES])
    description = description_first[category] + (rng.random(len(category)) * description_count[category])
    return Expenses(
        day=day[order].astype(np.int32),
        team=team[order].astype(np.int32),
        category=category,
        cents=np.concatenate([salary_cents, bill_cents])[order],
        rep=rep[order].astype(np.int32),
        description=description.astype(np.int32),
    )


def _targets(rng, org: Org, employed, month_text, net_cents, new_customers, visits) -> out.Sheet:
    """Rep targets for every month of employment, and for the TARGET_MONTHS_AHEAD months after the
    period for the reps still employed (the forecast compares the coming months with them); team
    targets = the sum of its reps' targets (rounded). A team's ambition above 1 makes it miss its
    targets, below 1 beat them."""
    n_teams = org.n_teams
    months_worked = np.maximum((employed > 0).sum(axis=1), 1)[:, None]
    staying = np.repeat((~org.rep_left)[:, None], TARGET_MONTHS_AHEAD, axis=1)
    employed = np.hstack([employed > 0, staying])
    last = date.fromisoformat(month_text[-1] + "-01")
    month_text = month_text + [add_months(last, k).isoformat()[:7] for k in range(1, TARGET_MONTHS_AHEAD + 1)]
    ambition = np.linspace(0.85, 1.2, n_teams)[rng.permutation(n_teams)]
    rep_ambition = ambition[org.rep_team][:, None] * rng.uniform(0.92, 1.08, employed.shape)

    def blend(actual):
        """Half the month's actuals, half the rep's monthly average (only the average ahead)."""
        average = actual.sum(axis=1, keepdims=True) / months_worked
        ahead = np.repeat(average, TARGET_MONTHS_AHEAD, axis=1)
        return np.hstack([0.5 * actual + 0.5 * average, ahead])

    rep_values = [
        np.maximum(np.round(blend(net_cents / 100) * rep_ambition / 1000) * 1000, 10_000),  # net_revenue
        np.maximum(np.round(blend(new_customers.astype(float)) * rep_ambition), 1),  # new_customers
        np.maximum(np.round(blend(visits.astype(float)) * rep_ambition), 1),  # visits
    ]
    # rows: every metric for each (rep, month) of employment, then every metric for each (team, month);
    # formatted part by part (a part's text is much bigger than its numbers)
    rep_index, month_index = np.nonzero(employed)
    parts = [
        _target_rows(month_text, metric, month_index, values[rep_index, month_index], rep=rep_index)
        for metric, values in enumerate(rep_values)
    ]
    for metric, values in enumerate(rep_values):
        team_total = np.zeros((n_teams, employed.shape[1]))
        np.add.at(team_total, org.rep_team, values * employed)
        step = 1000.0 if TARGET_METRICS[metric] == "net_revenue" else 1.0
        team_total = np.round(team_total * rng.uniform(0.98, 1.02, team_total.shape) / step) * step
        t_index, m_index = np.nonzero(team_total > 0)
        parts.append(_target_rows(month_text, metric, m_index, team_total[t_index, m_index], team=t_index))
    parts += _service_targets(rng, org, employed, month_text, rep_index, month_index)
    return {
        name: np.concatenate([p[name] for p in parts])
        if name == "target_value"
        else pa.concat_arrays([p[name] for p in parts])
        for name in parts[0]
    }


def _service_targets(rng, org: Org, employed, month_text, rep_index, month_index) -> list[out.Sheet]:
    """CSAT rate and NPS targets: one standard per team (CSAT to the hundredth, NPS in steps of 5),
    for each of its reps' months of employment and each month the team has a rep employed. Drawn
    after every other target, so adding them changed none of the others."""
    n_teams = org.n_teams
    csat = np.round(rng.uniform(*CSAT_TARGET_RANGE, n_teams), 2)
    nps = np.round(rng.uniform(*NPS_TARGET_RANGE, n_teams) / 5) * 5
    team_employed = np.zeros((n_teams, employed.shape[1]))
    np.add.at(team_employed, org.rep_team, employed)
    team_index, team_month = np.nonzero(team_employed > 0)
    parts = []
    for metric, standard in (("csat_rate", csat), ("nps", nps)):
        code = TARGET_METRICS.index(metric)
        parts.append(_target_rows(month_text, code, month_index, standard[org.rep_team[rep_index]], rep=rep_index))
        parts.append(_target_rows(month_text, code, team_month, standard[team_index], team=team_index))
    return parts


def _target_rows(month_text, metric: int, month, value, rep=None, team=None) -> out.Sheet:
    """Target rows of one metric, for reps or for teams (the other id column stays empty); a
    rate target keeps its hundredths, the others are whole numbers."""
    n = len(month)
    whole = TARGET_METRICS[metric] != "csat_rate"
    return {
        "month": out.pick(month_text, month),
        "metric": out.constant(TARGET_METRICS[metric], n),
        "target_value": value.astype(np.int64) if whole else np.round(value.astype(np.float64), 2),
        "rep_id": rep_ids(rep) if rep is not None else pa.nulls(n, pa.string()),
        "team_id": team_ids(team) if team is not None else pa.nulls(n, pa.string()),
    }
