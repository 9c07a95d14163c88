"""The generated period, demand over time, and the seeded random streams.

Days are integers (days since 1970-01-01) and timestamps integer seconds since then, in local
business time: cheap to vectorise and formatted only when written.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np

from demo.vocab import ANNUAL_GROWTH, MONTH_SEASONALITY

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)
# Weekend demand relative to a weekday (B2B: little is ordered on Saturdays, less on Sundays).
_WEEKDAY_FACTOR = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.30, 0.15])


def rng_for(seed: int, *names: str | int) -> np.random.Generator:
    """An independent random stream per (seed, component, chunk): adding or dropping one
    component (e.g. dirty mode) never shifts the numbers another component draws."""
    keys = [int(seed)] + [n if isinstance(n, int) else zlib.crc32(n.encode()) for n in names]
    return np.random.default_rng(np.random.SeedSequence(keys))


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def weekday(days: np.ndarray | int) -> np.ndarray | int:
    """Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday)."""
    return (np.asarray(days) + 3) % 7


def parse_month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def add_months(d: date, n: int) -> date:
    total = d.year * 12 + d.month - 1 + n
    return date(total // 12, total % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """`months` calendar months from `start` (YYYY-MM); the last day is the data's as_of date."""

    start: str
    months: int

    def __post_init__(self):
        if not isinstance(self.months, int) or self.months < 1:
            raise ValueError(f"months must be an integer >= 1, not {self.months!r}")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(self.start)):
            raise ValueError(f"start must be a month YYYY-MM, not {self.start!r}")

    @property
    def month_starts(self) -> np.ndarray:
        """Day numbers of the first day of every month, plus the day after the period."""
        first = parse_month(self.start)
        return np.array([day_number(add_months(first, i)) for i in range(self.months + 1)], dtype=np.int64)

    @property
    def start_day(self) -> int:
        return int(self.month_starts[0])

    @property
    def end_day(self) -> int:
        return int(self.month_starts[-1]) - 1

    @property
    def end_ts(self) -> int:
        """The last second of the period."""
        return (self.end_day + 1) * SECONDS_PER_DAY - 1

    @property
    def n_days(self) -> int:
        return self.end_day - self.start_day + 1

    def month_of_year(self, days: np.ndarray) -> np.ndarray:
        """1..12 for day numbers (vectorised through numpy datetime64)."""
        months = np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return months % 12 + 1

    def demand(self, days: np.ndarray, *, working_day: bool = False) -> np.ndarray:
        """Relative demand on each day: seasonality x mild growth x weekday pattern (or as on a
        working day, whatever the weekday, when working_day is set)."""
        days = np.asarray(days, dtype=np.int64)
        season = np.asarray(MONTH_SEASONALITY)[self.month_of_year(days) - 1]
        growth = (1.0 + ANNUAL_GROWTH) ** ((days - self.start_day) / 365.25)
        return season * growth * (1.0 if working_day else _WEEKDAY_FACTOR[weekday(days)])


class DaySampler:
    """Draws days inside per-row windows [lo, hi] with probability proportional to demand,
    by inverting the cumulative demand (vectorised)."""

    def __init__(self, period: Period):
        self.first_day = period.start_day
        days = np.arange(period.start_day, period.end_day + 1)
        self.cumulative = np.concatenate([[0.0], np.cumsum(period.demand(days))])

    def mass(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Total demand in each window (0 where the window is empty)."""
        lo_i = np.asarray(lo) - self.first_day
        hi_i = np.asarray(hi) - self.first_day
        valid = hi_i >= lo_i
        lo_c = np.clip(lo_i, 0, len(self.cumulative) - 1)
        hi_c = np.clip(hi_i + 1, 0, len(self.cumulative) - 1)
        return np.where(valid, self.cumulative[hi_c] - self.cumulative[lo_c], 0.0)

    def sample(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lo_i = np.asarray(lo, dtype=np.int64) - self.first_day
        hi_i = np.asarray(hi, dtype=np.int64) - self.first_day
        low_mass = self.cumulative[lo_i]
        u = low_mass + rng.random(len(lo_i)) * (self.cumulative[hi_i + 1] - low_mass)
        picked = np.searchsorted(self.cumulative, u, side="right") - 1
        return np.clip(picked, lo_i, hi_i) + self.first_day


def business_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight within office hours (08:30-19:00)."""
    return rng.integers(8 * 3600 + 1800, 19 * 3600, size=n, dtype=np.int64)


def weighted_choice(rng: np.random.Generator, weights, n: int) -> np.ndarray:
    """Indices drawn with the given relative weights (stable across numpy versions)."""
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    return np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right").clip(0, len(cumulative) - 1)


class Groups:
    """Members of each group as one sorted array plus offsets (vectorised random member picks)."""

    def __init__(self, group: np.ndarray, member: np.ndarray, n_groups: int):
        order = np.argsort(group, kind="stable")
        self.members = member[order]
        self.count = np.bincount(group, minlength=n_groups)
        self.first = np.concatenate([[0], np.cumsum(self.count)[:-1]])

    def pick(self, rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
        """A random member of each group, -1 for empty groups."""
        count = self.count[groups]
        offset = (rng.random(len(groups)) * count).astype(np.int64)
        found = count > 0
        result = np.full(len(groups), -1)
        result[found] = self.members[self.first[groups[found]] + offset[found]]
        return result
