"""The sales report's core charts (funnel, KPIs, budget, lifecycle, service) as altair charts,
each built from the frames of a ReportData and the page's labels; report.py lists them in page order.

Charts are Vega-Lite specs drawn in the browser. A chart stays readable with a few dozen bars or a
handful of lines: with many teams or reps it shows the ones that need attention first and says how
many the mart holds (altair also refuses to embed more than 5,000 rows).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from orchestration.serving import report_format as fmt
from orchestration.serving.labels import LIFECYCLE_STAGES
from orchestration.serving.report_data import (
    FUNNEL_COHORT_MONTHS,
    REP_NPS_MONTHS,
    ReportData,
    add_months,
    missing,
    nps_score,
    ratio,
)

CHART_WIDTH = 400
# A chart stays readable with a few dozen bars or a handful of lines. At scale 50 the demo company
# has ~300 teams and ~2,000 reps: such a chart shows the ones that need attention first and says
# how many the mart holds (altair also refuses to embed more than 5,000 rows).
MAX_CHART_BARS = 25
MAX_CHART_LINES = 8


def _capped(
    df: pd.DataFrame, key: str, rank: pd.Series, limit: int, L: dict, order: str, table: str
) -> tuple[pd.DataFrame, str | None]:
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


def no_data_chart(L: dict, title: str) -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({"text": [L["no_data"]]}))
        .mark_text(fontSize=16, color="#7b8794")
        .encode(text="text:N")
        .properties(width=CHART_WIDTH, height=120, title=title)
    )


def _month_axis(L: dict) -> alt.X:
    # Numeric month labels read the same in every language.
    return alt.X("month:O", title=L["month"], axis=alt.Axis(labelAngle=-45))


def _funnel_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_funnel"].format(
        first=fmt.month(add_months(month, 1 - FUNNEL_COHORT_MONTHS), L), last=fmt.month(month, L)
    )
    df = data.frames.get("funnel", pd.DataFrame())
    if df.empty or df["reached"].fillna(0).sum() == 0:
        return no_data_chart(L, title)
    df = df.copy()
    first_stage = df.loc[df["stage_order"].idxmin(), "reached"]
    df["conversion"] = [ratio(a, r) if pd.notna(a) else None for a, r in zip(df["advanced"], df["reached"])]
    df["cumulative"] = [ratio(r, first_stage) for r in df["reached"]]
    df["stage_label"] = [L.get(f"opp_stage.{s}", s) for s in df["stage"]]
    df["bar_label"] = [
        fmt.count(r) if missing(c) else L["funnel_bar_label"].format(reached=fmt.count(r), conversion=fmt.percent(c))
        for r, c in zip(df["reached"], df["conversion"])
    ]
    base = alt.Chart(df).encode(
        y=alt.Y("stage_label:N", title=L["stage"], sort=alt.EncodingSortField("stage_order", order="ascending")),
        x=alt.X("reached:Q", title=L["reached"]),
        tooltip=[
            alt.Tooltip("stage_label:N", title=L["stage"]),
            alt.Tooltip("reached:Q", title=L["reached"], format=","),
            alt.Tooltip("advanced:Q", title=L["advanced"], format=","),
            alt.Tooltip("conversion:Q", title=L["stage_conversion"], format=".1%"),
            alt.Tooltip("cumulative:Q", title=L["cumulative_conversion"], format=".1%"),
        ],
    )
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(align="left", dx=4).encode(text="bar_label:N")
    return (bars + text).properties(width=CHART_WIDTH - 120, height=220, title=title)


def _attainment_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_attainment"].format(month=fmt.month(data.report_month, L))
    df = data.frames.get("attainment", pd.DataFrame())
    measures = ["revenue_attainment", "new_customers_attainment", "visits_attainment"]
    if df.empty:
        return no_data_chart(L, title)
    df, note = _capped(
        df,
        "team_id",
        df["revenue_attainment"].fillna(float("inf")),
        MAX_CHART_BARS,
        L,
        "lowest_revenue_attainment",
        "mart_team_kpi_monthly",
    )
    title = _titled(title, note)
    long = df.melt(id_vars="team_id", value_vars=measures, var_name="measure", value_name="value").dropna()
    if long.empty:
        return no_data_chart(L, title)
    long["measure_label"] = [L[m] for m in long["measure"]]
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("team_id:N", title=L["team"]),
            xOffset=alt.XOffset("measure_label:N", sort=[L[m] for m in measures]),
            y=alt.Y("value:Q", title=L["attainment"], axis=alt.Axis(format="%")),
            color=alt.Color("measure_label:N", title=L["measure"], sort=[L[m] for m in measures]),
            tooltip=[
                alt.Tooltip("team_id:N", title=L["team"]),
                alt.Tooltip("measure_label:N", title=L["measure"]),
                alt.Tooltip("value:Q", title=L["attainment"], format=".1%"),
            ],
        )
    )
    target_line = (
        alt.Chart(pd.DataFrame({"target": [1.0]})).mark_rule(strokeDash=[4, 4], color="#333").encode(y="target:Q")
    )
    return (bars + target_line).properties(width=CHART_WIDTH, height=240, title=title)


def _revenue_trend_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_revenue_trend"]
    df = data.frames.get("team_trend", pd.DataFrame())
    if df.empty:
        return no_data_chart(L, title)
    long = df.melt(
        id_vars="month", value_vars=["net_revenue", "revenue_target"], var_name="measure", value_name="value"
    ).dropna()
    if long.empty:
        return no_data_chart(L, title)
    long["measure_label"] = [L[m] for m in long["measure"]]
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=_month_axis(L),
            y=alt.Y("value:Q", title=L["amount"], axis=alt.Axis(format=",.0f")),
            color=alt.Color("measure_label:N", title=L["measure"]),
            strokeDash=alt.StrokeDash("measure_label:N", title=L["measure"]),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("measure_label:N", title=L["measure"]),
                alt.Tooltip("value:Q", title=L["amount"], format=",.2f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def _budget_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = alt.TitleParams(
        L["chart_budget"].format(month=fmt.month(data.report_month, L)), subtitle=L["budget_tick_note"]
    )
    df = data.frames.get("budget", pd.DataFrame())
    if df.empty:
        return no_data_chart(L, title)
    df = df.copy()
    df["row_label"] = [f"{t or '—'} · {c or '—'}" for t, c in zip(df["team_id"], df["category"])]
    overspend = df["actual_amount"].fillna(0).astype(float) - df["budget_amount"].fillna(0).astype(float)
    df, note = _capped(df, "row_label", -overspend, MAX_CHART_BARS, L, "largest_overspend", "mart_budget_vs_actual")
    title = _titled(title, note)
    df["status"] = [
        L["over_budget"] if not missing(over) and bool(over) else L["within_budget"] for over in df["is_over_budget"]
    ]
    base = alt.Chart(df).encode(y=alt.Y("row_label:N", title=f"{L['team']} · {L['category']}", sort=None))
    tooltip = [
        alt.Tooltip("row_label:N", title=f"{L['team']} · {L['category']}"),
        alt.Tooltip("budget_amount:Q", title=L["budget"], format=",.2f"),
        alt.Tooltip("actual_amount:Q", title=L["actual"], format=",.2f"),
        alt.Tooltip("status:N", title=L["budget_status"]),
    ]
    bars = base.mark_bar().encode(
        x=alt.X("actual_amount:Q", title=L["amount"], axis=alt.Axis(format=",.0f")),
        color=alt.Color(
            "status:N",
            title=L["budget_status"],
            scale=alt.Scale(domain=[L["over_budget"], L["within_budget"]], range=["#d62728", "#4c78a8"]),
        ),
        tooltip=tooltip,
    )
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
        return no_data_chart(L, title)
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=_month_axis(L),
            y=alt.Y("customers:Q", title=L["customers"], stack="zero"),
            color=alt.Color("stage_label:N", title=L["stage"], sort=_stage_sort(L)),
            order=alt.Order("stage_index:Q"),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("stage_label:N", title=L["stage"]),
                alt.Tooltip("customers:Q", title=L["customers"], format=","),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def _lifecycle_transitions_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_lifecycle_transitions"].format(month=fmt.month(month, L))
    df = _lifecycle_frame(data, L)
    if df.empty:
        return no_data_chart(L, title)
    df = df[df["month"] == fmt.month(month, L)]
    measures = ["entered", "exited", "reactivated"]
    long = df.melt(
        id_vars=["stage_label", "stage_index"], value_vars=measures, var_name="transition", value_name="value"
    ).dropna()
    if long.empty:
        return no_data_chart(L, title)
    long["transition_label"] = [L[t] for t in long["transition"]]
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("stage_label:N", title=L["stage"], sort=_stage_sort(L)),
            xOffset=alt.XOffset("transition_label:N", sort=[L[m] for m in measures]),
            y=alt.Y("value:Q", title=L["customers"]),
            color=alt.Color("transition_label:N", title=L["transition"], sort=[L[m] for m in measures]),
            tooltip=[
                alt.Tooltip("stage_label:N", title=L["stage"]),
                alt.Tooltip("transition_label:N", title=L["transition"]),
                alt.Tooltip("value:Q", title=L["customers"], format=","),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def _monthly_ratio_chart(
    df: pd.DataFrame,
    L: dict,
    *,
    title: str,
    value_title: str,
    axis_format: str,
    numerator,
    denominator: str,
    denominator_title: str,
    scale: float = 1.0,
) -> alt.TopLevelMixin:
    """A line over months of a ratio recomputed from summed parts (months without answers left out)."""
    if df.empty:
        return no_data_chart(L, title)
    points = pd.DataFrame(
        {
            "month": df["month"],
            "value": [
                None if (r := ratio(n, d)) is None else r * scale for n, d in zip(numerator(df), df[denominator])
            ],
            "denominator": df[denominator],
        }
    ).dropna()
    if points.empty:
        return no_data_chart(L, title)
    return (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=_month_axis(L),
            y=alt.Y("value:Q", title=value_title, axis=alt.Axis(format=axis_format)),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("value:Q", title=value_title, format=axis_format),
                alt.Tooltip("denominator:Q", title=denominator_title, format=","),
            ],
        )
        .properties(width=CHART_WIDTH, height=220, title=title)
    )


def _nps_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    df = data.frames.get("team_trend", pd.DataFrame())
    return _monthly_ratio_chart(
        df,
        L,
        title=L["chart_nps"],
        value_title=L["nps"],
        axis_format=".0f",
        denominator="nps_responses",
        denominator_title=L["responses"],
        numerator=lambda d: d["nps_promoters"] - d["nps_detractors"],
        scale=100.0,
    )


def _csat_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    df = data.frames.get("team_trend", pd.DataFrame())
    return _monthly_ratio_chart(
        df,
        L,
        title=L["chart_csat"],
        value_title=L["csat_rate"],
        axis_format=".0%",
        denominator="csat_responses",
        denominator_title=L["responses"],
        numerator=lambda d: d["csat_satisfied"],
    )


def _rep_nps_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    month = data.report_month
    title = L["chart_rep_nps"].format(
        first=fmt.month(add_months(month, 1 - REP_NPS_MONTHS), L), last=fmt.month(month, L)
    )
    df = data.frames.get("rep_nps", pd.DataFrame())
    if df.empty:
        return no_data_chart(L, title)
    df = pd.DataFrame(
        {
            "rep": [
                fmt.scrub_contact_details(n if isinstance(n, str) and n else r)
                for r, n in zip(df["rep_id"], df["rep_name"])
            ],
            "nps": [
                nps_score(p, d, n) for p, d, n in zip(df["nps_promoters"], df["nps_detractors"], df["nps_responses"])
            ],
            "responses": df["nps_responses"],
        }
    ).dropna()
    if df.empty:
        return no_data_chart(L, title)
    df, note = _capped(df, "rep", df["nps"], MAX_CHART_BARS, L, "lowest_nps", "mart_rep_kpi_monthly")
    title = _titled(title, note)
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("rep:N", title=L["rep"], sort="-x"),
            x=alt.X("nps:Q", title=L["nps"], scale=alt.Scale(domain=[-100, 100])),
            color=alt.condition("datum.nps < 0", alt.value("#d62728"), alt.value("#4c78a8")),
            tooltip=[
                alt.Tooltip("rep:N", title=L["rep"]),
                alt.Tooltip("nps:Q", title=L["nps"], format=".1f"),
                alt.Tooltip("responses:Q", title=L["responses"], format=","),
            ],
        )
        .properties(width=CHART_WIDTH - 120, height=max(120, 18 * len(df)), title=title)
    )


def _response_times_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_response_times"]
    df = data.frames.get("service", pd.DataFrame())
    if df.empty or df["median_first_response_hours"].isna().all():
        return no_data_chart(L, title)
    df = df.dropna(subset=["median_first_response_hours"])
    slowest = -df.groupby("team_id")["median_first_response_hours"].transform("mean")
    df, note = _capped(df, "team_id", slowest, MAX_CHART_LINES, L, "slowest_first_response", "mart_service_monthly")
    title = _titled(title, note)
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=_month_axis(L),
            y=alt.Y("median_first_response_hours:Q", title=L["first_response_hours"]),
            color=alt.Color("team_id:N", title=L["team"]),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("team_id:N", title=L["team"]),
                alt.Tooltip("median_first_response_hours:Q", title=L["first_response_hours"], format=".1f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=220, title=title)
    )


def _service_by_month(data: ReportData) -> pd.DataFrame:
    df = data.frames.get("service", pd.DataFrame())
    if df.empty:
        return df
    return df.groupby("month", as_index=False)[["complaints_opened", "first_response_breaches", "cases_opened"]].sum(
        min_count=1
    )


def _complaints_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    title = L["chart_complaints"]
    df = _service_by_month(data)
    if df.empty:
        return no_data_chart(L, title)
    return (
        alt.Chart(df.dropna(subset=["complaints_opened"]))
        .mark_bar(color="#f58518")
        .encode(
            x=_month_axis(L),
            y=alt.Y("complaints_opened:Q", title=L["complaints_opened"]),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("complaints_opened:Q", title=L["complaints_opened"], format=","),
            ],
        )
        .properties(width=CHART_WIDTH, height=220, title=title)
    )


def _breach_rate_chart(data: ReportData, L: dict) -> alt.TopLevelMixin:
    return _monthly_ratio_chart(
        _service_by_month(data),
        L,
        title=L["chart_breach_rate"],
        value_title=L["breach_rate"],
        axis_format=".0%",
        denominator="cases_opened",
        denominator_title=L["cases_opened"],
        numerator=lambda d: d["first_response_breaches"],
    )
