"""Teams and reps: who sells where, and when each rep was employed."""

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

    @property
    def n_teams(self) -> int:
        return len(self.team_region)

    @property
    def n_reps(self) -> int:
        return len(self.rep_team)

    @property
    def rep_left(self) -> np.ndarray:
        return self.rep_end_day != STILL_EMPLOYED

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
    return Org(
        team_region=np.arange(n_teams) % len(REGIONS),
        team_manager=np.arange(n_teams),
        rep_team=rep_team,
        rep_hire_day=hire.astype(np.int64),
        rep_end_day=end_day,
        rep_surname=rng.integers(0, len(SURNAMES), n_reps),
        rep_given=rng.integers(0, len(GIVEN_NAMES), n_reps),
        rep_monthly_salary_cents=salary.astype(np.int64),
    )


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


def reps_table(org: Org) -> out.Table:
    reps = np.arange(org.n_reps)
    surnames = [s for s, _ in SURNAMES]
    given = [g for g, _ in GIVEN_NAMES]
    surname_py = [p for _, p in SURNAMES]
    given_py = [p for _, p in GIVEN_NAMES]
    manager = org.team_manager[org.rep_team]
    left = org.rep_left
    return {
        "rep_id": rep_ids(reps),
        "rep_name": out.join(out.pick(surnames, org.rep_surname), out.pick(given, org.rep_given)),
        "email": out.join(out.pick(given_py, org.rep_given), ".", out.pick(surname_py, org.rep_surname),
                          out.integers(reps + 1), "@" + COMPANY_DOMAIN),
        "team_id": team_ids(org.rep_team),
        "manager_rep_id": rep_ids(manager, null_mask=manager == reps),
        "region": out.pick([r for r, _ in REGIONS], org.team_region[org.rep_team]),
        "hire_date": out.dates(org.rep_hire_day),
        "end_date": out.dates(np.where(left, org.rep_end_day, 0), null_mask=~left),
        "status": out.pick(("active", "inactive"), left.astype(np.int64)),
    }
