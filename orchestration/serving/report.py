"""The sales manager's report: one self-contained HTML page with charts, built from the marts.

Charts are Vega-Lite specs made with altair and drawn in the browser by the Vega libraries,
which are inlined in the page (vl-convert's bundle), so the file opens with no network.
Monthly figures are for the last full month: the as_of month when as_of_date is its last day,
else the month before it. Every ratio is recomputed from summed numerators and denominators.
The page never shows e-mail addresses or phone numbers (free text is scrubbed as a last guard).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import altair as alt
import duckdb
import jinja2
import pandas as pd
import vl_convert

from ingestion.file_modes import reader_file
from orchestration.serving import report_cold_deals, report_forecast, report_products, report_quality, report_treatment
from orchestration.serving.labels import LIFECYCLE_STAGES, labels_for

log = logging.getLogger(__name__)

REPORT_FILENAMES = {"en": "sales_report.html", "zh": "sales_report.zh.html"}
MARTS = "marts"
TREND_MONTHS = 24       # months shown on the trend charts
FUNNEL_COHORT_MONTHS = 12  # cohort months summed into the funnel
REP_NPS_MONTHS = 3      # months pooled for the per-rep NPS (one month has too few answers)
AT_RISK_ROWS = 50       # rows listed in the at-risk table (the total is stated)
VIP_RECENCY_DAYS = 60
VIP_NPS_AT_MOST = 6
CHART_WIDTH = 400
# A chart stays readable with a few dozen bars or a handful of lines. At scale 50 the demo company
# has ~300 teams and ~2,000 reps: such a chart shows the ones that need attention first and says
# how many the mart holds (altair also refuses to embed more than 5,000 rows).
MAX_CHART_BARS = 25
MAX_CHART_LINES = 8

OPPORTUNITY_STAGES = ("prospecting", "qualification", "needs_analysis", "proposal", "negotiation", "closed_won")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_TEMPLATES = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------- data read from the marts

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


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _missing(value) -> bool:
    return value is None or (not isinstance(value, (str, Decimal)) and bool(pd.isna(value)))


def _ratio(numerator, denominator) -> float | None:
    """numerator / denominator; None when either is missing or the denominator is 0 (marts.md)."""
    if _missing(numerator) or _missing(denominator) or denominator == 0:
        return None
    return float(numerator) / float(denominator)


def _nps(promoters, detractors, responses) -> float | None:
    if _missing(promoters) or _missing(detractors):
        return None
    share = _ratio(promoters - detractors, responses)
    return None if share is None else share * 100


class _Marts:
    """Read-only queries on the marts; a missing table reads as empty (logged), never a crash."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and table_catalog = current_database()", [MARTS]).fetchall()}
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
        latest = [r[0] for t in ("mart_team_kpi_monthly", "mart_lifecycle_monthly")
                  if (r := m.one(t, f"select max(month) from marts.{t}")) and r[0]]
        as_of_month = max(latest) if latest else None
    if as_of_month is None:
        return as_of, None, None
    month_is_complete = as_of is not None and (as_of + timedelta(days=1)).day == 1
    return as_of, as_of_month, as_of_month if month_is_complete else _add_months(as_of_month, -1)


def _headline(m: _Marts, month: date | None) -> Headline:
    team = m.one("mart_team_kpi_monthly", """
        select sum(net_revenue), sum(revenue_target), sum(opportunities_won),
               sum(opportunities_won) + sum(opportunities_lost),
               sum(nps_promoters), sum(nps_detractors), sum(nps_responses)
        from marts.mart_team_kpi_monthly where month = ?""", [month]) if month else None
    net, target, won, closed, promoters, detractors, responses = team or (None,) * 7
    pipeline = m.one("fct_opportunities",
                     "select count(*), sum(amount) from marts.fct_opportunities where status = 'open'")
    open_count, open_amount = pipeline or (None, None)
    return Headline(
        month=month, net_revenue=net, revenue_target=target, revenue_attainment=_ratio(net, target),
        opportunities_won=won, opportunities_closed=closed, win_rate=_ratio(won, closed),
        nps_responses=responses, nps=_nps(promoters, detractors, responses),
        open_pipeline_amount=open_amount, open_opportunities=open_count,
    )


def load_report_data(warehouse: Path) -> ReportData:
    """Everything the page shows, read from the warehouse opened read-only (closed on return)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        m = _Marts(con)
        as_of, as_of_month, month = _reference_dates(m)
        data = ReportData(as_of_date=as_of, as_of_month=as_of_month, report_month=month,
                          headline=_headline(m, month))
        if month is None:
            return data
        trend_start = _add_months(month, 1 - TREND_MONTHS)
        f = data.frames
        f["funnel"] = m.frame("mart_funnel_monthly", """
            select stage_order, stage, sum(opportunities_reached) as reached,
                   sum(opportunities_advanced) as advanced
            from marts.mart_funnel_monthly where cohort_month between ? and ?
            group by stage_order, stage order by stage_order""",
            [_add_months(month, 1 - FUNNEL_COHORT_MONTHS), month])
        f["attainment"] = m.frame("mart_team_kpi_monthly", """
            select team_id, revenue_attainment, new_customers_attainment, visits_attainment
            from marts.mart_team_kpi_monthly where month = ? order by team_id""", [month])
        f["team_trend"] = m.frame("mart_team_kpi_monthly", """
            select month, sum(net_revenue) as net_revenue, sum(revenue_target) as revenue_target,
                   sum(nps_promoters) as nps_promoters, sum(nps_detractors) as nps_detractors,
                   sum(nps_responses) as nps_responses, sum(csat_satisfied) as csat_satisfied,
                   sum(csat_responses) as csat_responses
            from marts.mart_team_kpi_monthly where month between ? and ?
            group by month order by month""", [trend_start, month])
        f["budget"] = m.frame("mart_budget_vs_actual", """
            select team_id, category, budget_amount, actual_amount, is_over_budget
            from marts.mart_budget_vs_actual where month = ? order by team_id, category""", [month])
        f["lifecycle"] = m.frame("mart_lifecycle_monthly", """
            select month, lifecycle_stage, customers, entered, exited, reactivated
            from marts.mart_lifecycle_monthly where month between ? and ?
            order by month, lifecycle_stage""", [trend_start, month])
        f["rep_nps"] = m.frame("mart_rep_kpi_monthly", """
            select rep_id, max(rep_name) as rep_name, sum(nps_promoters) as nps_promoters,
                   sum(nps_detractors) as nps_detractors, sum(nps_responses) as nps_responses
            from marts.mart_rep_kpi_monthly where month between ? and ?
            group by rep_id having sum(nps_responses) > 0 order by rep_id""",
            [_add_months(month, 1 - REP_NPS_MONTHS), month])
        f["service"] = m.frame("mart_service_monthly", """
            select month, team_id, median_first_response_hours, complaints_opened,
                   first_response_breaches, cases_opened
            from marts.mart_service_monthly where month between ? and ?
            order by month, team_id""", [trend_start, month])
        f.update(report_forecast.load_frames(m, month))
        f.update(report_quality.load_frames(m, month))
        f.update(report_treatment.load_frames(m, month))
        f.update(report_products.load_frames(m, month) | report_cold_deals.load_frames(m, month))
        for frame in f.values():
            if "month" in frame:  # "2025-02": the charts' month axis, the same in every language
                frame["month"] = frame["month"].dt.strftime("%Y-%m")
        data.rep_names = dict(m.rows("mart_rep_kpi_monthly", """
            select rep_id, arg_max(rep_name, month) from marts.mart_rep_kpi_monthly
            where rep_name is not null group by rep_id"""))
        at_risk_filter = """
            from marts.dim_customers
            where lifecycle_stage = 'inactive'
               or (lifecycle_stage = 'vip' and (recency_days > ? or latest_nps_score <= ?))"""
        total = m.one("dim_customers", "select count(*) " + at_risk_filter, [VIP_RECENCY_DAYS, VIP_NPS_AT_MOST])
        data.at_risk_total = total[0] if total else 0
        cur = con.execute(f"""
            select account_id, account_name, region, team_id, owner_rep_id, lifecycle_stage,
                   recency_days, latest_nps_score, net_revenue_365d, lifetime_net_revenue,
                   open_cases, recommended_action
            {at_risk_filter}
            order by case when lifecycle_stage = 'vip' then 0 else 1 end,
                     lifetime_net_revenue desc nulls last, account_id
            limit ?""", [VIP_RECENCY_DAYS, VIP_NPS_AT_MOST, AT_RISK_ROWS]) if data.at_risk_total else None
        if cur is not None:
            names = [d[0] for d in cur.description]
            data.at_risk = [dict(zip(names, r)) for r in cur.fetchall()]
    return data


# ---------------------------------------------------------------- formatting

def scrub_contact_details(text) -> str:
    """Free text with any e-mail address or phone number blanked out."""
    if text is None:
        return ""
    return _PHONE.sub("***", _EMAIL.sub("***", str(text)))


def _money(value) -> str:
    return "—" if _missing(value) else f"{value:,.2f}"


def _percent(value) -> str:
    return "—" if _missing(value) else f"{value:.1%}"


def _count(value) -> str:
    return "—" if _missing(value) else f"{int(value):,}"


def _month(value: date | None, L: dict) -> str:
    return value.strftime("%Y-%m") if value else L["unknown"]


def _raw(value) -> str:
    return "" if _missing(value) else str(value)


def _kpis(h: Headline, L: dict) -> list[dict]:
    month = _month(h.month, L)
    return [
        {"key": "net_revenue", "label": L["kpi_net_revenue"].format(month=month),
         "raw": _raw(h.net_revenue), "display": _money(h.net_revenue),
         "details": [
             {"key": "revenue_target", "raw": _raw(h.revenue_target),
              "text": f'{L["kpi_revenue_target"]}: {_money(h.revenue_target)}'},
             {"key": "revenue_attainment", "raw": _raw(h.revenue_attainment),
              "text": f'{L["kpi_attainment"]}: {_percent(h.revenue_attainment)}'},
         ]},
        {"key": "win_rate", "label": L["kpi_win_rate"].format(month=month),
         "raw": _raw(h.win_rate), "display": _percent(h.win_rate),
         "details": [{"key": "opportunities_closed", "raw": _raw(h.opportunities_closed),
                      "text": L["kpi_win_rate_detail"].format(won=_count(h.opportunities_won),
                                                             closed=_count(h.opportunities_closed))}]},
        {"key": "nps", "label": L["kpi_nps"].format(month=month),
         "raw": _raw(h.nps), "display": "—" if h.nps is None else f"{h.nps:.1f}",
         "details": [{"key": "nps_responses", "raw": _raw(h.nps_responses),
                      "text": L["kpi_nps_detail"].format(responses=_count(h.nps_responses))}]},
        {"key": "open_pipeline", "label": L["kpi_open_pipeline"],
         "raw": _raw(h.open_pipeline_amount), "display": _money(h.open_pipeline_amount),
         "details": [{"key": "open_opportunities", "raw": _raw(h.open_opportunities),
                      "text": L["kpi_open_pipeline_detail"].format(count=_count(h.open_opportunities))}]},
    ]


def _at_risk_table(data: ReportData, L: dict) -> dict:
    columns = [("customer", "col_customer", False), ("region", "col_region", False),
               ("team", "col_team", False), ("owner", "col_owner", False), ("stage", "col_stage", False),
               ("reason", "col_reason", False), ("recency", "col_recency", True),
               ("revenue_365d", "col_revenue_365d", True), ("lifetime", "col_lifetime_revenue", True),
               ("nps", "col_nps", True), ("open_cases", "col_open_cases", True), ("action", "col_action", False)]
    rows = []
    for r in data.at_risk:
        if r["lifecycle_stage"] == "vip":
            reasons = []
            if r["recency_days"] is not None and r["recency_days"] > VIP_RECENCY_DAYS:
                reasons.append(L["reason_vip_recency"].format(days=r["recency_days"]))
            if r["latest_nps_score"] is not None and r["latest_nps_score"] <= VIP_NPS_AT_MOST:
                reasons.append(L["reason_vip_nps"].format(score=r["latest_nps_score"]))
            reason = "; ".join(reasons)
        else:
            reason = L["reason_inactive"].format(days=_count(r["recency_days"]))
        owner = r["owner_rep_id"]
        rows.append({"account_id": r["account_id"], "cells": {
            "customer": scrub_contact_details(r["account_name"] or r["account_id"]),
            "region": scrub_contact_details(r["region"]),
            "team": r["team_id"] or "",
            "owner": scrub_contact_details(data.rep_names.get(owner, owner)),
            "stage": L.get(f'life_stage.{r["lifecycle_stage"]}', r["lifecycle_stage"]),
            "reason": reason,
            "recency": _count(r["recency_days"]),
            "revenue_365d": _money(r["net_revenue_365d"]),
            "lifetime": _money(r["lifetime_net_revenue"]),
            "nps": _count(r["latest_nps_score"]),
            "open_cases": _count(r["open_cases"]),
            "action": scrub_contact_details(r["recommended_action"]),
        }})
    return {
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows, "total": data.at_risk_total,
        "shown_note": L["at_risk_shown"].format(shown=len(rows), total=data.at_risk_total),
    }


# ---------------------------------------------------------------- charts

def _capped(df: pd.DataFrame, key: str, rank: pd.Series, limit: int, L: dict, order: str,
            table: str) -> tuple[pd.DataFrame, str | None]:
    """The rows of the `limit` first values of `key` by `rank` (ascending), and the note saying so
    (None when nothing was left out)."""
    ranked = pd.DataFrame({"key": df[key], "rank": rank}).groupby("key", sort=False)["rank"].min()
    if len(ranked) <= limit:
        return df, None
    kept = set(ranked.sort_values(kind="stable").index[:limit])
    note = L["capped_note"].format(shown=limit, total=len(ranked), order=L[f"order.{order}"], table=table)
    return df[df[key].isin(kept)], note


def _titled(title: str | alt.TitleParams, note: str | None) -> str | alt.TitleParams:
    if note is None:
        return title
    if isinstance(title, alt.TitleParams):
        subtitle = title.subtitle if isinstance(title.subtitle, list) else [title.subtitle]
        return alt.TitleParams(title.text, subtitle=[*subtitle, note])
    return alt.TitleParams(title, subtitle=note)


def _no_data(L: dict, title: str) -> alt.Chart:
    return (alt.Chart(pd.DataFrame({"text": [L["no_data"]]}))
            .mark_text(fontSize=16, color="#7b8794")
            .encode(text="text:N")
            .properties(width=CHART_WIDTH, height=120, title=title))


def _month_axis(L: dict) -> alt.X:
    # Numeric month labels read the same in every language.
    return alt.X("month:O", title=L["month"], axis=alt.Axis(labelAngle=-45))


def _funnel_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_funnel"].format(first=_month(_add_months(month, 1 - FUNNEL_COHORT_MONTHS), L),
                                     last=_month(month, L))
    df = data.frames.get("funnel", pd.DataFrame())
    if df.empty or df["reached"].fillna(0).sum() == 0:
        return _no_data(L, title)
    df = df.copy()
    first_stage = df.loc[df["stage_order"].idxmin(), "reached"]
    df["conversion"] = [_ratio(a, r) if pd.notna(a) else None for a, r in zip(df["advanced"], df["reached"])]
    df["cumulative"] = [_ratio(r, first_stage) for r in df["reached"]]
    df["stage_label"] = [L.get(f"opp_stage.{s}", s) for s in df["stage"]]
    df["bar_label"] = [
        _count(r) if _missing(c) else L["funnel_bar_label"].format(reached=_count(r), conversion=_percent(c))
        for r, c in zip(df["reached"], df["conversion"])]
    base = alt.Chart(df).encode(
        y=alt.Y("stage_label:N", title=L["stage"], sort=alt.EncodingSortField("stage_order", order="ascending")),
        x=alt.X("reached:Q", title=L["reached"]),
        tooltip=[alt.Tooltip("stage_label:N", title=L["stage"]),
                 alt.Tooltip("reached:Q", title=L["reached"], format=","),
                 alt.Tooltip("advanced:Q", title=L["advanced"], format=","),
                 alt.Tooltip("conversion:Q", title=L["stage_conversion"], format=".1%"),
                 alt.Tooltip("cumulative:Q", title=L["cumulative_conversion"], format=".1%")])
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(align="left", dx=4).encode(text="bar_label:N")
    return (bars + text).properties(width=CHART_WIDTH - 120, height=220, title=title)


def _attainment_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_attainment"].format(month=_month(data.report_month, L))
    df = data.frames.get("attainment", pd.DataFrame())
    measures = ["revenue_attainment", "new_customers_attainment", "visits_attainment"]
    if df.empty:
        return _no_data(L, title)
    df, note = _capped(df, "team_id", df["revenue_attainment"].fillna(float("inf")), MAX_CHART_BARS, L,
                       "lowest_revenue_attainment", "mart_team_kpi_monthly")
    title = _titled(title, note)
    long = df.melt(id_vars="team_id", value_vars=measures, var_name="measure", value_name="value").dropna()
    if long.empty:
        return _no_data(L, title)
    long["measure_label"] = [L[m] for m in long["measure"]]
    bars = alt.Chart(long).mark_bar().encode(
        x=alt.X("team_id:N", title=L["team"]),
        xOffset=alt.XOffset("measure_label:N", sort=[L[m] for m in measures]),
        y=alt.Y("value:Q", title=L["attainment"], axis=alt.Axis(format="%")),
        color=alt.Color("measure_label:N", title=L["measure"], sort=[L[m] for m in measures]),
        tooltip=[alt.Tooltip("team_id:N", title=L["team"]), alt.Tooltip("measure_label:N", title=L["measure"]),
                 alt.Tooltip("value:Q", title=L["attainment"], format=".1%")])
    target_line = alt.Chart(pd.DataFrame({"target": [1.0]})).mark_rule(strokeDash=[4, 4], color="#333").encode(
        y="target:Q")
    return (bars + target_line).properties(width=CHART_WIDTH, height=240, title=title)


def _revenue_trend_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_revenue_trend"]
    df = data.frames.get("team_trend", pd.DataFrame())
    if df.empty:
        return _no_data(L, title)
    long = df.melt(id_vars="month", value_vars=["net_revenue", "revenue_target"],
                   var_name="measure", value_name="value").dropna()
    if long.empty:
        return _no_data(L, title)
    long["measure_label"] = [L[m] for m in long["measure"]]
    return alt.Chart(long).mark_line(point=True).encode(
        x=_month_axis(L),
        y=alt.Y("value:Q", title=L["amount"], axis=alt.Axis(format=",.0f")),
        color=alt.Color("measure_label:N", title=L["measure"]),
        strokeDash=alt.StrokeDash("measure_label:N", title=L["measure"]),
        tooltip=[alt.Tooltip("month:O", title=L["month"]),
                 alt.Tooltip("measure_label:N", title=L["measure"]),
                 alt.Tooltip("value:Q", title=L["amount"], format=",.2f")],
    ).properties(width=CHART_WIDTH, height=240, title=title)


def _budget_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = alt.TitleParams(L["chart_budget"].format(month=_month(data.report_month, L)),
                            subtitle=L["budget_tick_note"])
    df = data.frames.get("budget", pd.DataFrame())
    if df.empty:
        return _no_data(L, title)
    df = df.copy()
    df["row_label"] = [f"{t or '—'} · {c or '—'}" for t, c in zip(df["team_id"], df["category"])]
    overspend = df["actual_amount"].fillna(0).astype(float) - df["budget_amount"].fillna(0).astype(float)
    df, note = _capped(df, "row_label", -overspend, MAX_CHART_BARS, L, "largest_overspend", "mart_budget_vs_actual")
    title = _titled(title, note)
    df["status"] = [L["over_budget"] if not _missing(over) and bool(over) else L["within_budget"]
                    for over in df["is_over_budget"]]
    base = alt.Chart(df).encode(y=alt.Y("row_label:N", title=f'{L["team"]} · {L["category"]}', sort=None))
    tooltip = [alt.Tooltip("row_label:N", title=f'{L["team"]} · {L["category"]}'),
               alt.Tooltip("budget_amount:Q", title=L["budget"], format=",.2f"),
               alt.Tooltip("actual_amount:Q", title=L["actual"], format=",.2f"),
               alt.Tooltip("status:N", title=L["budget_status"])]
    bars = base.mark_bar().encode(
        x=alt.X("actual_amount:Q", title=L["amount"], axis=alt.Axis(format=",.0f")),
        color=alt.Color("status:N", title=L["budget_status"],
                        scale=alt.Scale(domain=[L["over_budget"], L["within_budget"]], range=["#d62728", "#4c78a8"])),
        tooltip=tooltip)
    ticks = base.mark_tick(color="black", thickness=2).encode(x="budget_amount:Q", tooltip=tooltip)
    return (bars + ticks).properties(width=CHART_WIDTH - 120, height=max(120, 22 * len(df)), title=title)


def _lifecycle_frame(data: ReportData, L: dict) -> pd.DataFrame:
    df = data.frames.get("lifecycle", pd.DataFrame())
    if df.empty:
        return df
    df = df.copy()
    df["stage_label"] = [L.get(f"life_stage.{s}", s) for s in df["lifecycle_stage"]]
    order = {s: i for i, s in enumerate(LIFECYCLE_STAGES)}
    df["stage_index"] = [order.get(s, len(order)) for s in df["lifecycle_stage"]]
    return df


def _stage_sort(L: dict) -> list[str]:
    return [L[f"life_stage.{s}"] for s in LIFECYCLE_STAGES]


def _lifecycle_sizes_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_lifecycle_sizes"]
    df = _lifecycle_frame(data, L)
    if df.empty:
        return _no_data(L, title)
    return alt.Chart(df).mark_bar().encode(
        x=_month_axis(L),
        y=alt.Y("customers:Q", title=L["customers"], stack="zero"),
        color=alt.Color("stage_label:N", title=L["stage"], sort=_stage_sort(L)),
        order=alt.Order("stage_index:Q"),
        tooltip=[alt.Tooltip("month:O", title=L["month"]),
                 alt.Tooltip("stage_label:N", title=L["stage"]),
                 alt.Tooltip("customers:Q", title=L["customers"], format=",")],
    ).properties(width=CHART_WIDTH, height=240, title=title)


def _lifecycle_transitions_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_lifecycle_transitions"].format(month=_month(month, L))
    df = _lifecycle_frame(data, L)
    if df.empty:
        return _no_data(L, title)
    df = df[df["month"] == _month(month, L)]
    measures = ["entered", "exited", "reactivated"]
    long = df.melt(id_vars=["stage_label", "stage_index"], value_vars=measures,
                   var_name="transition", value_name="value").dropna()
    if long.empty:
        return _no_data(L, title)
    long["transition_label"] = [L[t] for t in long["transition"]]
    return alt.Chart(long).mark_bar().encode(
        x=alt.X("stage_label:N", title=L["stage"], sort=_stage_sort(L)),
        xOffset=alt.XOffset("transition_label:N", sort=[L[m] for m in measures]),
        y=alt.Y("value:Q", title=L["customers"]),
        color=alt.Color("transition_label:N", title=L["transition"], sort=[L[m] for m in measures]),
        tooltip=[alt.Tooltip("stage_label:N", title=L["stage"]),
                 alt.Tooltip("transition_label:N", title=L["transition"]),
                 alt.Tooltip("value:Q", title=L["customers"], format=",")],
    ).properties(width=CHART_WIDTH, height=240, title=title)


def _monthly_ratio_chart(df: pd.DataFrame, L: dict, *, title: str, value_title: str, axis_format: str,
                         numerator, denominator: str, denominator_title: str,
                         scale: float = 1.0) -> alt.TopLevelMixin:
    """A line over months of a ratio recomputed from summed parts (months without answers left out)."""
    if df.empty:
        return _no_data(L, title)
    points = pd.DataFrame({
        "month": df["month"],
        "value": [None if (r := _ratio(n, d)) is None else r * scale
                  for n, d in zip(numerator(df), df[denominator])],
        "denominator": df[denominator],
    }).dropna()
    if points.empty:
        return _no_data(L, title)
    return alt.Chart(points).mark_line(point=True).encode(
        x=_month_axis(L),
        y=alt.Y("value:Q", title=value_title, axis=alt.Axis(format=axis_format)),
        tooltip=[alt.Tooltip("month:O", title=L["month"]),
                 alt.Tooltip("value:Q", title=value_title, format=axis_format),
                 alt.Tooltip("denominator:Q", title=denominator_title, format=",")],
    ).properties(width=CHART_WIDTH, height=220, title=title)


def _nps_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    df = data.frames.get("team_trend", pd.DataFrame())
    return _monthly_ratio_chart(
        df, L, title=L["chart_nps"], value_title=L["nps"], axis_format=".0f", denominator="nps_responses",
        denominator_title=L["responses"], numerator=lambda d: d["nps_promoters"] - d["nps_detractors"],
        scale=100.0)


def _csat_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    df = data.frames.get("team_trend", pd.DataFrame())
    return _monthly_ratio_chart(
        df, L, title=L["chart_csat"], value_title=L["csat_rate"], axis_format=".0%",
        denominator="csat_responses", denominator_title=L["responses"], numerator=lambda d: d["csat_satisfied"])


def _rep_nps_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_rep_nps"].format(first=_month(_add_months(month, 1 - REP_NPS_MONTHS), L),
                                      last=_month(month, L))
    df = data.frames.get("rep_nps", pd.DataFrame())
    if df.empty:
        return _no_data(L, title)
    df = pd.DataFrame({
        "rep": [scrub_contact_details(n if isinstance(n, str) and n else r) for r, n in zip(df["rep_id"], df["rep_name"])],
        "nps": [_nps(p, d, n) for p, d, n in zip(df["nps_promoters"], df["nps_detractors"], df["nps_responses"])],
        "responses": df["nps_responses"],
    }).dropna()
    if df.empty:
        return _no_data(L, title)
    df, note = _capped(df, "rep", df["nps"], MAX_CHART_BARS, L, "lowest_nps", "mart_rep_kpi_monthly")
    title = _titled(title, note)
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("rep:N", title=L["rep"], sort="-x"),
        x=alt.X("nps:Q", title=L["nps"], scale=alt.Scale(domain=[-100, 100])),
        color=alt.condition("datum.nps < 0", alt.value("#d62728"), alt.value("#4c78a8")),
        tooltip=[alt.Tooltip("rep:N", title=L["rep"]), alt.Tooltip("nps:Q", title=L["nps"], format=".1f"),
                 alt.Tooltip("responses:Q", title=L["responses"], format=",")],
    ).properties(width=CHART_WIDTH - 120, height=max(120, 18 * len(df)), title=title)


def _response_times_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_response_times"]
    df = data.frames.get("service", pd.DataFrame())
    if df.empty or df["median_first_response_hours"].isna().all():
        return _no_data(L, title)
    df = df.dropna(subset=["median_first_response_hours"])
    slowest = -df.groupby("team_id")["median_first_response_hours"].transform("mean")
    df, note = _capped(df, "team_id", slowest, MAX_CHART_LINES, L, "slowest_first_response", "mart_service_monthly")
    title = _titled(title, note)
    return alt.Chart(df).mark_line(point=True).encode(
        x=_month_axis(L),
        y=alt.Y("median_first_response_hours:Q", title=L["first_response_hours"]),
        color=alt.Color("team_id:N", title=L["team"]),
        tooltip=[alt.Tooltip("month:O", title=L["month"]), alt.Tooltip("team_id:N", title=L["team"]),
                 alt.Tooltip("median_first_response_hours:Q", title=L["first_response_hours"], format=".1f")],
    ).properties(width=CHART_WIDTH, height=220, title=title)


def _service_by_month(data: ReportData) -> pd.DataFrame:
    df = data.frames.get("service", pd.DataFrame())
    if df.empty:
        return df
    return (df.groupby("month", as_index=False)[["complaints_opened", "first_response_breaches", "cases_opened"]]
            .sum(min_count=1))


def _complaints_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_complaints"]
    df = _service_by_month(data)
    if df.empty:
        return _no_data(L, title)
    return alt.Chart(df.dropna(subset=["complaints_opened"])).mark_bar(color="#f58518").encode(
        x=_month_axis(L),
        y=alt.Y("complaints_opened:Q", title=L["complaints_opened"]),
        tooltip=[alt.Tooltip("month:O", title=L["month"]),
                 alt.Tooltip("complaints_opened:Q", title=L["complaints_opened"], format=",")],
    ).properties(width=CHART_WIDTH, height=220, title=title)


def _breach_rate_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    return _monthly_ratio_chart(
        _service_by_month(data), L, title=L["chart_breach_rate"], value_title=L["breach_rate"],
        axis_format=".0%", denominator="cases_opened", denominator_title=L["cases_opened"],
        numerator=lambda d: d["first_response_breaches"])


# Sections in page order: (section key, title label, [(chart name, builder)]).
_SECTIONS = [
    ("funnel", "section_funnel", [("funnel", _funnel_chart)]),
    ("kpi", "section_kpi", [("attainment", _attainment_chart), ("revenue_trend", _revenue_trend_chart)]),
    ("budget", "section_budget", [("budget", _budget_chart)]),
    ("lifecycle", "section_lifecycle", [("lifecycle_sizes", _lifecycle_sizes_chart),
                                        ("lifecycle_transitions", _lifecycle_transitions_chart)]),
    ("service", "section_service", [("nps", _nps_chart), ("csat", _csat_chart), ("rep_nps", _rep_nps_chart),
                                     ("response_times", _response_times_chart), ("complaints", _complaints_chart),
                                     ("breach_rate", _breach_rate_chart)]),
    ("forecast", "section_forecast", report_forecast.CHARTS),
    ("treatment", "section_treatment", report_treatment.CHARTS),
    ("quality", "section_quality", report_quality.CHARTS),
    ("products", "section_products", report_products.CHARTS),
    ("cold_deals", "section_cold_deals", report_cold_deals.CHARTS),
]
_TABLES = {"forecast": report_forecast.forecast_table, "products": report_products.products_table,
           "cold_deals": report_cold_deals.cold_deals_table, "treatment": report_treatment.untreated_table}
CHART_NAMES = tuple(name for _, _, charts in _SECTIONS for name, _ in charts)


def _chart_specs(data: ReportData, L: dict) -> dict[str, dict]:
    specs = {}
    for _, _, charts in _SECTIONS:
        for name, build in charts:
            chart = build(data, L) if data.report_month else _no_data(L, "")
            # Validation skipped: it costs a second per page, and the browser test renders every chart.
            specs[name] = (chart.configure(font="sans-serif").configure_legend(labelLimit=240)
                           .to_dict(validate=False))
    return specs


# ---------------------------------------------------------------- page

def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "salesdw"


@cache
def _vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script, in the Vega-Lite version altair writes.

    vl-convert bundles the libraries on every call (seconds of work), always to the same text for
    one vl-convert and Vega-Lite version: kept in a per-user cache file keyed by both.
    """
    vl_version = "_".join(alt.SCHEMA_VERSION.split(".")[:2])  # v6.4.1 -> v6_4
    cached = _cache_dir() / f"vega-bundle-{vl_convert.__version__}-{vl_version}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(vl_version=vl_version).replace("</script", "<\\/script")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(bundle)
        os.replace(tmp, cached)
    except OSError as exc:  # a read-only home only costs the bundling time
        log.debug("could not cache the Vega bundle in %s: %s", cached, exc)
    return bundle


def _script_json(value) -> str:
    # Inside <script>, "</" could close the tag early and "<!--" (then "<script") puts the parser in
    # its double-escaped state, blanking every chart: no "<" at all, "\u003c" is the same JSON string.
    return json.dumps(value, ensure_ascii=False, default=str).replace("<", "\\u003c")


def render_report(data: ReportData, *, lang: str = "en", currency: str | None = None) -> str:
    L = labels_for(lang)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    as_of = data.as_of_date.isoformat() if data.as_of_date else _month(data.as_of_month, L)
    return env.get_template("sales_report.html.j2").render(
        L=L,
        subtitle=L["subtitle"].format(as_of=as_of, month=_month(data.report_month, L)),
        currency_note=L["currency_note"].format(currency=currency) if currency else "",
        kpis=_kpis(data.headline, L),
        sections=[{"key": key, "title": L[title], "charts": [name for name, _ in charts],
                   "table": _TABLES[key](data, L, _money) if key in _TABLES else None}
                  for key, title, charts in _SECTIONS],
        at_risk=_at_risk_table(data, L),
        specs_json=_script_json(_chart_specs(data, L)),
        render_error_json=_script_json(L["render_error"]),
        vega_bundle=_vega_bundle(),
    )


def write_report(warehouse: Path, out_dir: Path, *, lang: str = "en", currency: str | None = None) -> Path:
    """Write the self-contained report page for `lang` ("en" or "zh") into out_dir; returns its path.

    Reads the marts of `warehouse` read-only (the connection is closed before the page is written);
    amounts are labelled with `currency` when given.
    """
    labels_for(lang)  # unknown language: fail before touching anything
    data = load_report_data(Path(warehouse))
    html = render_report(data, lang=lang, currency=currency)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILENAMES[lang]
    # Write beside the target and rename: a reader never opens a half-written page.
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(html)
    reader_file(tmp)  # readers' pages: no personal data (ingestion/file_modes.py)
    os.replace(tmp, path)
    log.info("wrote %s (%d KiB)", path, len(html.encode()) // 1024)
    return path
