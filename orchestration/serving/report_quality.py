"""The report's "Quality of sale" section (marts.md "The customer-treatment loop, quality of sale,
products"): each rep's sales beside the complaints on the rep's customers, and the reps whose
complaints rise faster than their sales called out (the playbook's team whose sales rose while
complaints rose with them).

Two windows of WINDOW_MONTHS full months: *recent* ends with the report's last full month,
*before* is the WINDOW_MONTHS before it. Sales = gross_revenue (completed orders, before refunds),
complaints = complaints_opened, both from mart_rep_kpi_monthly.

**Complaints rise faster than sales** when the complaints rose (complaints_recent >
complaints_before) and grew by a larger factor than the sales: complaints_recent /
complaints_before > sales_recent / sales_before. It is compared cross-multiplied,
complaints_recent x sales_before > complaints_before x sales_recent, so that a rep with sales but no
complaints before is called out when complaints appear (growth from none), and a rep without
sales before never is (no sales growth to compare with). A rep also needs at least
MIN_COMPLAINTS complaints in the recent window: complaints are rare (a few per rep a quarter in
the demo), and one or two after none are no trend.

report_data.py calls load_frames() while it reads the marts; report.py lists CHARTS among its sections.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd

from orchestration.serving.report_charts import CHART_WIDTH
from orchestration.serving.report_data import add_months

WINDOW_MONTHS = 3
MIN_COMPLAINTS = 3
MAX_CALLED_OUT = 20  # reps on the called-out chart, most complaints first
MAX_SCATTER_REPS = 4000  # altair embeds at most 5,000 rows; the called-out reps are always kept
COLORS = {"flagged": "#e45756", "other": "#4c78a8"}


def load_frames(m, month: date) -> dict[str, pd.DataFrame]:
    """Per rep, sales, orders and complaints in the recent window and the one before; `m` reads
    the marts (report_data._Marts), `month` is the last full month."""
    recent_start = add_months(month, 1 - WINDOW_MONTHS)
    before_start = add_months(recent_start, -WINDOW_MONTHS)
    return {
        "quality_of_sale": m.frame(
            "mart_rep_kpi_monthly",
            """
        select rep_id, max(rep_name) as rep_name,
               sum(case when month >= ? then gross_revenue else 0 end) as sales_recent,
               sum(case when month < ? then gross_revenue else 0 end) as sales_before,
               sum(case when month >= ? then orders_count else 0 end) as orders_recent,
               sum(case when month >= ? then complaints_opened else 0 end) as complaints_recent,
               sum(case when month < ? then complaints_opened else 0 end) as complaints_before
        from marts.mart_rep_kpi_monthly
        where month between ? and ?
        group by rep_id
        having sum(gross_revenue) <> 0 or sum(complaints_opened) > 0
        order by rep_id""",
            [recent_start] * 5 + [before_start, month],
        )
    }


def complaints_rise_faster(complaints_recent, complaints_before, sales_recent, sales_before) -> bool:
    """The module docstring's rule: complaints rose, by a larger factor than sales, to at least
    MIN_COMPLAINTS recent complaints."""
    if complaints_recent < MIN_COMPLAINTS or complaints_recent <= complaints_before or sales_before <= 0:
        return False
    return complaints_recent * sales_before > complaints_before * max(sales_recent, 0)


def quality_rows(data) -> pd.DataFrame:
    """The section's frame with floats, a display name and the called-out flag per rep."""
    df = data.frames.get("quality_of_sale", pd.DataFrame())
    if df.empty:
        return df
    df = df.copy()
    for column in ("sales_recent", "sales_before", "orders_recent", "complaints_recent", "complaints_before"):
        df[column] = df[column].astype(float).fillna(0.0)
    df["rep"] = [name if isinstance(name, str) and name else rep for rep, name in zip(df["rep_id"], df["rep_name"])]
    df["flagged"] = [
        complaints_rise_faster(c, cb, s, sb)
        for c, cb, s, sb in zip(
            df["complaints_recent"], df["complaints_before"], df["sales_recent"], df["sales_before"]
        )
    ]
    df["per_100_orders"] = [c / o * 100 if o else None for c, o in zip(df["complaints_recent"], df["orders_recent"])]
    return df


def _no_data(title: str, text: str) -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({"text": [text]}))
        .mark_text(fontSize=16, color="#7b8794")
        .encode(text="text:N")
        .properties(width=CHART_WIDTH, height=120, title=title)
    )


def _scatter_chart(data, L: dict) -> alt.TopLevelMixin:
    title = alt.TitleParams(L["chart_quality_scatter"], subtitle=L["quality_rule"])
    df = quality_rows(data)
    if df.empty:
        return _no_data(title, L["no_data"])
    if len(df) > MAX_SCATTER_REPS:
        df = df.sort_values(["flagged", "sales_recent"], ascending=False).head(MAX_SCATTER_REPS)
    df["status"] = [L["quality_flagged"] if f else L["quality_other"] for f in df["flagged"]]
    statuses = [L["quality_flagged"], L["quality_other"]]
    return (
        alt.Chart(df)
        .mark_circle(size=70, opacity=0.8)
        .encode(
            x=alt.X("sales_recent:Q", title=L["quality_sales_recent"]),
            y=alt.Y("complaints_recent:Q", title=L["quality_complaints_recent"]),
            color=alt.Color(
                "status:N",
                title=L["quality_status"],
                sort=statuses,
                scale=alt.Scale(domain=statuses, range=[COLORS["flagged"], COLORS["other"]]),
            ),
            tooltip=[
                alt.Tooltip("rep:N", title=L["rep"]),
                alt.Tooltip("sales_recent:Q", title=L["quality_sales_recent"], format=",.2f"),
                alt.Tooltip("complaints_recent:Q", title=L["quality_complaints_recent"]),
                alt.Tooltip("per_100_orders:Q", title=L["complaints_per_100_orders"], format=".1f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=260, title=title)
    )


def _called_out_chart(data, L: dict) -> alt.TopLevelMixin:
    title = L["chart_quality_called_out"].format(months=WINDOW_MONTHS)
    df = quality_rows(data)
    flagged = df[df["flagged"]] if not df.empty else df
    if flagged.empty:
        return _no_data(title, L["quality_none_called_out"] if not df.empty else L["no_data"])
    flagged = flagged.sort_values(["complaints_recent", "rep"], ascending=[False, True]).head(MAX_CALLED_OUT)
    windows = [
        ("complaints_before", "sales_before", L["quality_window_before"]),
        ("complaints_recent", "sales_recent", L["quality_window_recent"]),
    ]
    long = pd.DataFrame(
        [
            {
                "rep": r.rep,
                "window": label,
                "complaints": getattr(r, c),
                "sales": getattr(r, s),
                "sales_growth": r.sales_recent / r.sales_before - 1,
            }
            for r in flagged.itertuples(index=False)
            for c, s, label in windows
        ]
    )
    order = [label for _, _, label in windows]
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("rep:N", title=L["rep"], sort=list(flagged["rep"]), axis=alt.Axis(labelAngle=-45)),
            xOffset=alt.XOffset("window:N", sort=order),
            y=alt.Y("complaints:Q", title=L["complaints"]),
            color=alt.Color(
                "window:N", title=L["quality_window"], sort=order, scale=alt.Scale(range=["#bab0ac", COLORS["flagged"]])
            ),
            tooltip=[
                alt.Tooltip("rep:N", title=L["rep"]),
                alt.Tooltip("window:N", title=L["quality_window"]),
                alt.Tooltip("complaints:Q", title=L["complaints"]),
                alt.Tooltip("sales:Q", title=L["quality_sales"], format=",.2f"),
                alt.Tooltip("sales_growth:Q", title=L["quality_sales_growth"], format="+.0%"),
            ],
        )
        .properties(width=CHART_WIDTH, height=260, title=title)
    )


CHARTS = [("quality_scatter", _scatter_chart), ("quality_called_out", _called_out_chart)]
