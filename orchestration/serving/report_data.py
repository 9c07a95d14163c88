"""The sales report's data: everything the page shows, read from the marts (report.py renders it).

Monthly figures are for the last full month: the as_of month when as_of_date is its last day,
else the month before it. Every ratio is recomputed from summed numerators and denominators.
A missing mart reads as empty (logged), never a crash. The report_* section modules read their
own frames through the same `_Marts` (their load_frames(), handed in by report.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

log = logging.getLogger(__name__)

MARTS = "marts"
TREND_MONTHS = 24  # months shown on the trend charts
FUNNEL_COHORT_MONTHS = 12  # cohort months summed into the funnel
REP_NPS_MONTHS = 3  # months pooled for the per-rep NPS (one month has too few answers)
AT_RISK_ROWS = 50  # rows listed in the at-risk table (the total is stated)
VIP_RECENCY_DAYS = 60
VIP_NPS_AT_MOST = 6


@dataclass(frozen=True)
class Headline:
    month: date | None
    net_revenue: Decimal | None = None
    revenue_target: Decimal | None = None
    revenue_attainment: float | None = None
    opportunities_won: int | None = None
    opportunities_closed: int | None = None
    win_rate: float | None = None
    nps_responses: int | None = None
    nps: float | None = None
    open_pipeline_amount: Decimal | None = None
    open_opportunities: int | None = None


@dataclass
class ReportData:
    as_of_date: date | None
    as_of_month: date | None
    report_month: date | None  # the last full month
    headline: Headline
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    at_risk: list[dict] = field(default_factory=list)
    at_risk_total: int = 0
    rep_names: dict[str, str] = field(default_factory=dict)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def missing(value) -> bool:
    return value is None or (not isinstance(value, (str, Decimal)) and bool(pd.isna(value)))


def ratio(numerator, denominator) -> float | None:
    """numerator / denominator; None when either is missing or the denominator is 0 (marts.md)."""
    if missing(numerator) or missing(denominator) or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def nps_score(promoters, detractors, responses) -> float | None:
    if missing(promoters) or missing(detractors):
        return None
    share = ratio(promoters - detractors, responses)
    return None if share is None else share * 100


class _Marts:
    """Read-only queries on the marts; a missing table reads as empty (logged), never a crash."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ? "
                "and table_catalog = current_database()",
                [MARTS],
            ).fetchall()
        }
        self.reported_missing: set[str] = set()

    def has(self, table: str) -> bool:
        if table not in self.tables:
            if table not in self.reported_missing:
                log.warning("report: %s.%s is missing; its charts show no data", MARTS, table)
                self.reported_missing.add(table)
            return False
        return True

    def one(self, table: str, sql: str, params=()) -> tuple | None:
        return self.con.execute(sql, list(params)).fetchone() if self.has(table) else None

    def rows(self, table: str, sql: str, params=()) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall() if self.has(table) else []

    def frame(self, table: str, sql: str, params=()) -> pd.DataFrame:
        return self.con.execute(sql, list(params)).df() if self.has(table) else pd.DataFrame()

    def columns(self, table: str) -> set[str]:
        """The columns of marts.<table> (none when it is missing)."""
        return {
            r[0]
            for r in self.con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "and table_catalog = current_database()",
                [MARTS, table],
            ).fetchall()
        }


def _reference_dates(m: _Marts) -> tuple[date | None, date | None, date | None]:
    """as_of_date, as_of month and the last full month, as the marts encode them.

    dim_customers has recency_days = as_of − last_order_date, open opportunities age_days =
    as_of − created_date; without either, the latest month of the monthly marts is the as_of month.
    """
    as_of = None
    row = m.one("dim_customers", "select max(last_order_date + recency_days) from marts.dim_customers")
    if row and row[0]:
        as_of = row[0]
    if as_of is None:
        row = m.one("fct_opportunities", "select max(created_date + age_days) from marts.fct_opportunities")
        if row and row[0]:
            as_of = row[0]
    if as_of is not None:
        as_of_month = as_of.replace(day=1)
    else:
        latest = [
            r[0]
            for t in ("mart_team_kpi_monthly", "mart_lifecycle_monthly")
            if (r := m.one(t, f"select max(month) from marts.{t}")) and r[0]
        ]
        as_of_month = max(latest) if latest else None
    if as_of_month is None:
        return as_of, None, None
    month_is_complete = as_of is not None and (as_of + timedelta(days=1)).day == 1
    return as_of, as_of_month, as_of_month if month_is_complete else add_months(as_of_month, -1)


def _headline(m: _Marts, month: date | None) -> Headline:
    team = (
        m.one(
            "mart_team_kpi_monthly",
            """
        select sum(net_revenue), sum(revenue_target), sum(opportunities_won),
               sum(opportunities_won) + sum(opportunities_lost),
               sum(nps_promoters), sum(nps_detractors), sum(nps_responses)
        from marts.mart_team_kpi_monthly where month = ?""",
            [month],
        )
        if month
        else None
    )
    net, target, won, closed, promoters, detractors, responses = team or (None,) * 7
    pipeline = m.one(
        "fct_opportunities", "select count(*), sum(amount) from marts.fct_opportunities where status = 'open'"
    )
    open_count, open_amount = pipeline or (None, None)
    return Headline(
        month=month,
        net_revenue=net,
        revenue_target=target,
        revenue_attainment=ratio(net, target),
        opportunities_won=won,
        opportunities_closed=closed,
        win_rate=ratio(won, closed),
        nps_responses=responses,
        nps=nps_score(promoters, detractors, responses),
        open_pipeline_amount=open_amount,
        open_opportunities=open_count,
    )


# A section module's load_frames(m, month): its frames by name.
SectionLoader = Callable[["_Marts", date], dict[str, pd.DataFrame]]


def read_report_data(warehouse: Path, section_loaders: Sequence[SectionLoader] = ()) -> ReportData:
    """Everything the page shows, read from the warehouse opened read-only (closed on return):
    the core sections' data, then each section loader's frames."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        m = _Marts(con)
        as_of, as_of_month, month = _reference_dates(m)
        data = ReportData(as_of_date=as_of, as_of_month=as_of_month, report_month=month, headline=_headline(m, month))
        if month is None:
            return data
        data.frames = _frames(m, month, section_loaders)
        data.rep_names = _rep_names(m)
        data.at_risk_total, data.at_risk = _at_risk(m)
    return data


def _frames(m: _Marts, month: date, section_loaders: Sequence[SectionLoader]) -> dict[str, pd.DataFrame]:
    """Every chart's frame: the core sections', then each section module's own."""
    frames = {**_kpi_frames(m, month), **_customer_frames(m, month)}
    for load_frames in section_loaders:
        frames.update(load_frames(m, month))
    for frame in frames.values():
        if "month" in frame:  # "2025-02": the charts' month axis, the same in every language
            frame["month"] = frame["month"].dt.strftime("%Y-%m")
    return frames


def _kpi_frames(m: _Marts, month: date) -> dict[str, pd.DataFrame]:
    """The funnel, the teams' attainment and trend, and the budget."""
    trend_start = add_months(month, 1 - TREND_MONTHS)
    return {
        "funnel": m.frame(
            "mart_funnel_monthly",
            """
            select stage_order, stage, sum(opportunities_reached) as reached,
                   sum(opportunities_advanced) as advanced
            from marts.mart_funnel_monthly where cohort_month between ? and ?
            group by stage_order, stage order by stage_order""",
            [add_months(month, 1 - FUNNEL_COHORT_MONTHS), month],
        ),
        "attainment": m.frame(
            "mart_team_kpi_monthly",
            """
            select team_id, revenue_attainment, new_customers_attainment, visits_attainment
            from marts.mart_team_kpi_monthly where month = ? order by team_id""",
            [month],
        ),
        "team_trend": m.frame(
            "mart_team_kpi_monthly",
            """
            select month, sum(net_revenue) as net_revenue, sum(revenue_target) as revenue_target,
                   sum(nps_promoters) as nps_promoters, sum(nps_detractors) as nps_detractors,
                   sum(nps_responses) as nps_responses, sum(csat_satisfied) as csat_satisfied,
                   sum(csat_responses) as csat_responses
            from marts.mart_team_kpi_monthly where month between ? and ?
            group by month order by month""",
            [trend_start, month],
        ),
        "budget": m.frame(
            "mart_budget_vs_actual",
            """
            select team_id, category, budget_amount, actual_amount, is_over_budget
            from marts.mart_budget_vs_actual where month = ? order by team_id, category""",
            [month],
        ),
    }


def _customer_frames(m: _Marts, month: date) -> dict[str, pd.DataFrame]:
    """The lifecycle, the reps' NPS and the service figures."""
    trend_start = add_months(month, 1 - TREND_MONTHS)
    return {
        "lifecycle": m.frame(
            "mart_lifecycle_monthly",
            """
            select month, lifecycle_stage, customers, entered, exited, reactivated
            from marts.mart_lifecycle_monthly where month between ? and ?
            order by month, lifecycle_stage""",
            [trend_start, month],
        ),
        "rep_nps": m.frame(
            "mart_rep_kpi_monthly",
            """
            select rep_id, max(rep_name) as rep_name, sum(nps_promoters) as nps_promoters,
                   sum(nps_detractors) as nps_detractors, sum(nps_responses) as nps_responses
            from marts.mart_rep_kpi_monthly where month between ? and ?
            group by rep_id having sum(nps_responses) > 0 order by rep_id""",
            [add_months(month, 1 - REP_NPS_MONTHS), month],
        ),
        "service": m.frame(
            "mart_service_monthly",
            """
            select month, team_id, median_first_response_hours, complaints_opened,
                   first_response_breaches, cases_opened
            from marts.mart_service_monthly where month between ? and ?
            order by month, team_id""",
            [trend_start, month],
        ),
    }


def _rep_names(m: _Marts) -> dict[str, str]:
    """Each rep's latest name."""
    return dict(
        m.rows(
            "mart_rep_kpi_monthly",
            """
        select rep_id, arg_max(rep_name, month) from marts.mart_rep_kpi_monthly
        where rep_name is not null group by rep_id""",
        )
    )


_AT_RISK_FILTER = """
    from marts.dim_customers
    where lifecycle_stage = 'inactive'
       or (lifecycle_stage = 'vip' and (recency_days > ? or latest_nps_score <= ?))"""


def _at_risk(m: _Marts) -> tuple[int, list[dict]]:
    """How many customers are at risk, and the AT_RISK_ROWS first of them: VIPs first, then by
    lifetime net revenue."""
    total = m.one("dim_customers", "select count(*) " + _AT_RISK_FILTER, [VIP_RECENCY_DAYS, VIP_NPS_AT_MOST])
    if not total or not total[0]:
        return 0, []
    cur = m.con.execute(
        f"""
        select account_id, account_name, region, team_id, owner_rep_id, lifecycle_stage,
               recency_days, latest_nps_score, net_revenue_365d, lifetime_net_revenue,
               open_cases, recommended_action
        {_AT_RISK_FILTER}
        order by case when lifecycle_stage = 'vip' then 0 else 1 end,
                 lifetime_net_revenue desc nulls last, account_id
        limit ?""",
        [VIP_RECENCY_DAYS, VIP_NPS_AT_MOST, AT_RISK_ROWS],
    )
    names = [d[0] for d in cur.description]
    return total[0], [dict(zip(names, r)) for r in cur.fetchall()]
