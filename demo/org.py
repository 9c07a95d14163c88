"""Teams and reps: who sells where, and when each rep was employed. A few reps move to another
team at the start of a month; the reps export then arrives as dated month-end snapshots
(`reps/reps_YYYY-MM-DD.csv`, the state on that day) besides `reps/reps.csv` (the state now)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.period import Period, rng_for
from demo.vocab import COMPANY_DOMAIN, GIVEN_NAMES, REGIONS, SURNAMES

# end_day of a rep who has not left
STILL_EMPLOYED = np.iinfo(np.int64).max // 4
TEAMS_PER_SCALE = 6
REPS_PER_SCALE = 48
MIN_TEAMS = 2
MIN_REPS = 4
SHARE_HIRED_IN_PERIOD = 0.18
SHARE_LEFT_IN_PERIOD = 0.12
SHARE_MOVING = 0.06  # reps who change teams during the period (at least 2 when the org allows)
NOT_MOVED = -1


@dataclass(frozen=True)
class Org:
    team_region: np.ndarray  # index into REGIONS
    team_manager: np.ndarray  # rep index of each team's manager
    rep_team: np.ndarray
    rep_hire_day: np.ndarray
    rep_end_day: np.ndarray  # STILL_EMPLOYED when the rep has not left
    rep_surname: np.ndarray
    rep_given: np.ndarray
    rep_monthly_salary_cents: np.ndarray
    # A rep who moved was on rep_previous_team until the day before rep_move_day, on rep_team from
    # it (NOT_MOVED: never moved; rep_team is the team now).
    rep_move_day: np.ndarray
    rep_previous_team: np.ndarray

    @property
    def n_teams(self) -> int:
        return len(self.team_region)

    @property
    def n_reps(self) -> int:
        return len(self.rep_team)

    @property
    def rep_left(self) -> np.ndarray:
        return self.rep_end_day != STILL_EMPLOYED

    def team_on(self, reps: np.ndarray, day: int) -> np.ndarray:
        moved = (self.rep_move_day[reps] != NOT_MOVED) & (day < self.rep_move_day[reps])
        return np.where(moved, self.rep_previous_team[reps], self.rep_team[reps])

    def employed(self, reps: np.ndarray, days: np.ndarray) -> np.ndarray:
        return (self.rep_hire_day[reps] <= days) & (days <= self.rep_end_day[reps])

    def pick_employed(self, rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
        """A random rep employed on each given day (rejection sampling, vectorised); the first
        team's manager, employed throughout, when none is found."""
        days = np.asarray(days, dtype=np.int64)
        reps = rng.integers(0, self.n_reps, len(days))
        for _ in range(60):
            redo = ~self.employed(reps, days)
            if not redo.any():
                break
            reps[redo] = rng.integers(0, self.n_reps, int(redo.sum()))
        reps[~self.employed(reps, days)] = self.team_manager[0]
        return reps

    def pick_successor(self, rng: np.random.Generator, leavers: np.ndarray) -> np.ndarray:
        """For each leaving rep, a colleague of the same team who is still employed and was
        hired by the day the leaver left (the team manager when nobody else qualifies)."""
        leavers = np.asarray(leavers, dtype=np.int64)
        team = self.rep_team[leavers]
        members = np.argsort(self.rep_team, kind="stable")
        team_start = np.searchsorted(self.rep_team[members], np.arange(self.n_teams))
        team_size = np.bincount(self.rep_team, minlength=self.n_teams)
        chosen = self.team_manager[team].copy()
        undecided = np.ones(len(leavers), dtype=bool)
        for _ in range(30):
            if not undecided.any():
                break
            k = np.flatnonzero(undecided)
            candidate = members[team_start[team[k]] + rng.integers(0, team_size[team[k]])]
            ok = (~self.rep_left[candidate]) & (self.rep_hire_day[candidate] <= self.rep_end_day[leavers[k]])
            chosen[k[ok]] = candidate[ok]
            undecided[k[ok]] = False
        return chosen


def build_org(period: Period, scale: float, seed: int) -> Org:
    rng = rng_for(seed, "org")
    n_teams = max(MIN_TEAMS, round(TEAMS_PER_SCALE * scale))
    n_reps = max(MIN_REPS, round(REPS_PER_SCALE * scale), 2 * n_teams)
    rep_team = np.arange(n_reps) % n_teams
    is_manager = np.arange(n_reps) < n_teams  # rep i manages team i
    start, end = period.start_day, period.end_day

    hire = start - rng.integers(30, 6 * 365, n_reps)
    hire[is_manager] = start - rng.integers(2 * 365, 8 * 365, n_teams)
    # even the smallest company has one rep hired during the period and one who left
    hired_in_period = (~is_manager) & (rng.random(n_reps) < SHARE_HIRED_IN_PERIOD)
    hired_in_period[n_reps - 1] = True
    hire[hired_in_period] = start + rng.integers(0, max(1, int(period.n_days * 0.8)), int(hired_in_period.sum()))

    end_day = np.full(n_reps, STILL_EMPLOYED, dtype=np.int64)
    earliest_leave = np.maximum(hire + 90, start + 30)
    latest_leave = end - 30
    may_leave = (~is_manager) & (earliest_leave < latest_leave)
    leaves = may_leave & (rng.random(n_reps) < SHARE_LEFT_IN_PERIOD)
    if not leaves.any() and may_leave[:-1].any():
        leaves[np.flatnonzero(may_leave[:-1])[-1]] = True
    span = np.maximum(latest_leave - earliest_leave, 1)
    end_day[leaves] = earliest_leave[leaves] + (rng.random(int(leaves.sum())) * span[leaves]).astype(np.int64)

    salary = rng.integers(12_000, 28_000, n_reps) * 100
    salary[is_manager] = rng.integers(32_000, 40_000, n_teams) * 100
    move_day, previous_team = _moves(period, seed, rep_team, is_manager, hire, end_day, n_teams)
    return Org(
        team_region=np.arange(n_teams) % len(REGIONS),
        team_manager=np.arange(n_teams),
        rep_team=rep_team,
        rep_hire_day=hire.astype(np.int64),
        rep_end_day=end_day,
        rep_surname=rng.integers(0, len(SURNAMES), n_reps),
        rep_given=rng.integers(0, len(GIVEN_NAMES), n_reps),
        rep_monthly_salary_cents=salary.astype(np.int64),
        rep_move_day=move_day,
        rep_previous_team=previous_team,
    )


def _moves(period: Period, seed: int, rep_team, is_manager, hire, end_day, n_teams) -> tuple[np.ndarray, np.ndarray]:
    """A few reps employed throughout move team on the first day of a month (one of them in the
    last month, so the state now differs from every month-end snapshot). Own random stream: the
    rest of the company is the same with or without them."""
    rng = rng_for(seed, "org_moves")
    n_reps = len(rep_team)
    move_day = np.full(n_reps, NOT_MOVED, dtype=np.int64)
    previous = np.full(n_reps, NOT_MOVED, dtype=np.int64)
    candidates = np.flatnonzero(~is_manager & (hire < period.start_day) & (end_day == STILL_EMPLOYED))
    n_moves = min(len(candidates), max(2, round(SHARE_MOVING * n_reps)))
    if n_moves == 0 or n_teams < 2 or period.months < 2:
        return move_day, previous
    movers = np.sort(rng.choice(candidates, n_moves, replace=False))
    month = rng.integers(1, period.months, n_moves)  # never the first month: there is a before
    month[-1] = period.months - 1
    move_day[movers] = period.month_starts[month]
    previous[movers] = (rep_team[movers] + rng.integers(1, n_teams, n_moves)) % n_teams
    return move_day, previous


def team_ids(teams: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("T", np.asarray(teams) + 1, 3, null_mask)


def rep_ids(reps: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("R", np.asarray(reps) + 1, 4, null_mask)


def _chinese_ordinal(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    return str(n)


def teams_table(org: Org) -> out.Table:
    teams = np.arange(org.n_teams)
    region_names = [r for r, _ in REGIONS]
    per_region_number = teams // len(REGIONS) + 1
    names = [f"{region_names[org.team_region[t]]}销售{_chinese_ordinal(int(per_region_number[t]))}部" for t in teams]
    return {
        "team_id": team_ids(teams),
        "team_name": pa.array(names, pa.string()),
        "region": out.pick(region_names, org.team_region),
        "manager_rep_id": rep_ids(org.team_manager),
    }


def reps_table(org: Org, on_day: int | None = None) -> out.Table:
    """The reps export: the state now (on_day None; a rep who moved carries valid_from, the day
    of the move), or the month-end snapshot of on_day (reps hired by then, their team, status
    and end date then; valid_from on a rep who moved during that month)."""
    reps = np.arange(org.n_reps)
    if on_day is not None:
        reps = reps[org.rep_hire_day <= on_day]
    surnames = [s for s, _ in SURNAMES]
    given = [g for g, _ in GIVEN_NAMES]
    surname_py = [p for _, p in SURNAMES]
    given_py = [p for _, p in GIVEN_NAMES]
    team = org.rep_team[reps] if on_day is None else org.team_on(reps, on_day)
    manager = org.team_manager[team]
    left = org.rep_left[reps] if on_day is None else org.rep_end_day[reps] <= on_day
    move_day = org.rep_move_day[reps]
    dated = move_day != NOT_MOVED
    if on_day is not None:
        dated &= (move_day <= on_day) & (move_day > on_day - 31)
    return {
        "rep_id": rep_ids(reps),
        "rep_name": out.join(out.pick(surnames, org.rep_surname[reps]), out.pick(given, org.rep_given[reps])),
        "email": out.join(
            out.pick(given_py, org.rep_given[reps]),
            ".",
            out.pick(surname_py, org.rep_surname[reps]),
            out.integers(reps + 1),
            "@" + COMPANY_DOMAIN,
        ),
        "team_id": team_ids(team),
        "manager_rep_id": rep_ids(manager, null_mask=manager == reps),
        "region": out.pick([r for r, _ in REGIONS], org.team_region[team]),
        "hire_date": out.dates(org.rep_hire_day[reps]),
        "end_date": out.dates(np.where(left, org.rep_end_day[reps], 0), null_mask=~left),
        "status": out.pick(("active", "inactive"), left.astype(np.int64)),
        "valid_from": out.dates(np.where(dated, move_day, 0), null_mask=~dated),
    }
