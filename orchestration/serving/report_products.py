"""The report's "Products and channels" section (marts.md mart_sales_by_product_monthly).

Over the last PRODUCT_MONTHS full months, all teams and regions:
- the top products by net revenue;
- their gross margin rate, summed parts divided (gross margin / net revenue of the rows with a
  known unit cost); a product without a unit cost has no margin and is said to have none, its
  revenue still counts in every revenue figure;
- the channel mix per month (share of net revenue; an empty channel is its own value).

report_data.py calls load_frames() while it reads the marts; report.py lists CHARTS among its sections and puts
products_table() under them; the builders draw "no data" when the mart is missing or empty.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import altair as alt
import pandas as pd

from orchestration.serving.report_charts import CHART_WIDTH, no_data_chart
from orchestration.serving.report_data import add_months

PRODUCT_MONTHS = 12  # months summed for the top products and shown on the channel mix
TOP_PRODUCTS = 10  # products on the charts and in the table


def window(month: date) -> tuple[date, date]:
    """The first and last month the section sums (both included)."""
    return add_months(month, 1 - PRODUCT_MONTHS), month


def load_frames(m, month: date) -> dict[str, pd.DataFrame]:
    """The section's frames; `m` reads the marts (report_data._Marts), `month` is the last full month."""
    first, last = window(month)
    return {
        "products": m.frame(
            "mart_sales_by_product_monthly",
            """
            select product_id, max(product_name) as product_name, max(category) as category,
                   sum(units_sold) as units_sold, sum(net_revenue) as net_revenue,
                   sum(cost_amount) as cost_amount, sum(gross_margin) as gross_margin,
                   sum(net_revenue) filter (where cost_amount is not null) as costed_net_revenue
            from marts.mart_sales_by_product_monthly where month between ? and ?
            group by product_id order by net_revenue desc, product_id""",
            [first, last],
        ),
        "channel_mix": m.frame(
            "mart_sales_by_product_monthly",
            """
            select month, channel, sum(net_revenue) as net_revenue
            from marts.mart_sales_by_product_monthly where month between ? and ?
            group by month, channel order by month, channel nulls last""",
            [first, last],
        ),
    }


def _cents(value) -> Decimal | None:
    """An amount read through pandas (a float) back to exact cents; None when missing."""
    return None if value is None or pd.isna(value) else Decimal(f"{float(value):.2f}")


def _title(L: dict, key: str, data) -> str:
    first, last = window(data.report_month)
    return L[key].format(first=first.strftime("%Y-%m"), last=last.strftime("%Y-%m"))


def product_rows(data, L: dict) -> list[dict]:
    """The top products by net revenue: revenue, its share of all products', cost, margin and rate.

    The rate is None for a product without a unit cost (cost_known False)."""
    df = data.frames.get("products", pd.DataFrame())
    if df.empty:
        return []
    total = sum((_cents(v) or Decimal(0)) for v in df["net_revenue"])
    rows = []
    for r in df.head(TOP_PRODUCTS).itertuples(index=False):
        revenue, margin, costed = _cents(r.net_revenue), _cents(r.gross_margin), _cents(r.costed_net_revenue)
        known = not pd.isna(r.cost_amount)
        product_id = r.product_id if isinstance(r.product_id, str) else ""
        name = r.product_name if isinstance(r.product_name, str) else (product_id or L["product_unknown"])
        rows.append(
            {
                "product_id": product_id,
                "product": name,
                "category": r.category if isinstance(r.category, str) else "",
                "units": float(r.units_sold or 0),
                "net_revenue": revenue,
                "share": float(revenue / total) if total else None,
                "cost": _cents(r.cost_amount) if known else None,
                "gross_margin": margin if known else None,
                "margin_rate": float(margin / costed) if known and costed else None,
                "cost_known": known,
            }
        )
    return rows


def _top_products_chart(data, L: dict) -> alt.TopLevelMixin:
    title = _title(L, "chart_top_products", data)
    rows = product_rows(data, L)
    if not rows:
        return no_data_chart(L, title)
    df = pd.DataFrame([{**r, "net_revenue": float(r["net_revenue"]), "order": i} for i, r in enumerate(rows)])
    return (
        alt.Chart(df)
        .mark_bar(color="#4c78a8")
        .encode(
            y=alt.Y("product:N", title=L["product"], sort=alt.EncodingSortField("order")),
            x=alt.X("net_revenue:Q", title=L["amount"], axis=alt.Axis(format=",.0f")),
            tooltip=[
                alt.Tooltip("product:N", title=L["product"]),
                alt.Tooltip("category:N", title=L["category"]),
                alt.Tooltip("net_revenue:Q", title=L["product_net_revenue"], format=",.2f"),
                alt.Tooltip("share:Q", title=L["revenue_share"], format=".1%"),
            ],
        )
        .properties(width=CHART_WIDTH - 120, height=240, title=title)
    )


def _margin_chart(data, L: dict) -> alt.TopLevelMixin:
    rows = product_rows(data, L)
    unknown = sum(not r["cost_known"] for r in rows if r["product_id"])  # a refund of an unknown line: no product
    title = _title(L, "chart_product_margin", data)
    if unknown:
        title = alt.TitleParams(title, subtitle=L["margin_cost_unknown_note"].format(count=unknown))
    costed = [r for r in rows if r["margin_rate"] is not None]
    if not costed:
        return no_data_chart(L, title)
    df = pd.DataFrame(
        [
            {
                "product": r["product"],
                "order": i,
                "margin_rate": r["margin_rate"],
                "gross_margin": float(r["gross_margin"]),
            }
            for i, r in enumerate(costed)
        ]
    )
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("product:N", title=L["product"], sort=alt.EncodingSortField("order")),
            x=alt.X("margin_rate:Q", title=L["gross_margin_rate"], axis=alt.Axis(format=".0%")),
            color=alt.condition("datum.margin_rate < 0", alt.value("#e45756"), alt.value("#54a24b")),
            tooltip=[
                alt.Tooltip("product:N", title=L["product"]),
                alt.Tooltip("margin_rate:Q", title=L["gross_margin_rate"], format=".1%"),
                alt.Tooltip("gross_margin:Q", title=L["gross_margin"], format=",.2f"),
            ],
        )
        .properties(width=CHART_WIDTH - 120, height=240, title=title)
    )


def channel_mix_rows(data, L: dict) -> list[dict]:
    """Per month and channel: net revenue and its share of the month's (an empty channel labelled)."""
    df = data.frames.get("channel_mix", pd.DataFrame())
    if df.empty:
        return []
    totals = df.groupby("month")["net_revenue"].sum()
    return [
        {
            "month": r.month,
            "channel": r.channel if isinstance(r.channel, str) else L["channel_none"],
            "net_revenue": float(r.net_revenue),
            "share": float(r.net_revenue) / float(totals[r.month]) if float(totals[r.month]) else None,
        }
        for r in df.itertuples(index=False)
    ]


def _channel_mix_chart(data, L: dict) -> alt.TopLevelMixin:
    title = _title(L, "chart_channel_mix", data)
    rows = channel_mix_rows(data, L)
    if not rows:
        return no_data_chart(L, title)
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            x=alt.X("month:O", title=L["month"], axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("net_revenue:Q", title=L["revenue_share"], stack="normalize", axis=alt.Axis(format=".0%")),
            color=alt.Color("channel:N", title=L["channel"]),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("channel:N", title=L["channel"]),
                alt.Tooltip("net_revenue:Q", title=L["product_net_revenue"], format=",.2f"),
                alt.Tooltip("share:Q", title=L["revenue_share"], format=".1%"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


CHARTS = [("top_products", _top_products_chart), ("product_margin", _margin_chart), ("channel_mix", _channel_mix_chart)]


def products_table(data, L: dict, money) -> dict:
    """The top-products table under the charts (money formats an amount)."""
    columns = [
        ("product", "product", False),
        ("category", "category", False),
        ("units", "units_sold", True),
        ("net_revenue", "product_net_revenue", True),
        ("share", "revenue_share", True),
        ("cost", "cost_amount", True),
        ("gross_margin", "gross_margin", True),
        ("margin_rate", "gross_margin_rate", True),
    ]
    rows = []
    for r in product_rows(data, L):
        raw = {k: "" if r[k] is None else str(r[k]) for k, _, numeric in columns if numeric}
        cells = {
            "product": r["product"],
            "category": r["category"],
            "units": f"{r['units']:,.0f}",
            "net_revenue": money(r["net_revenue"]),
            "cost": money(r["cost"]),
            "gross_margin": money(r["gross_margin"]),
            "share": "—" if r["share"] is None else f"{r['share']:.1%}",
            "margin_rate": L["cost_unknown"]
            if not r["cost_known"]
            else "—"
            if r["margin_rate"] is None
            else f"{r['margin_rate']:.1%}",
        }
        rows.append({"key": r["product_id"], "raw": raw, "cells": cells})
    note = _title(L, "products_table_note", data) if data.report_month else ""
    return {
        "id": "top-products",
        "note": note,
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows,
    }
