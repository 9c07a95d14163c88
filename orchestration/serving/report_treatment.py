"""The report's "Customer treatment" section (marts.md mart_customer_treatment_monthly): was each
customer treated as its lifecycle stage calls for, and did it pay off.

- Treatment rate per stage over the last TREATMENT_MONTHS full months: treated / customers, summed
  over every team (the stage as the previous month ended; ratios from summed parts).
- Order rates of treated and untreated customers per stage over the same months, and the lift
  (treated minus untreated).
- The untreated list, as of as_of_date (dim_customers' engagement columns): VIP customers with no
  visit in the last 90 days and dormant (inactive) customers with no touch at all in the last 90
  days, with their owners; VIPs first, then by lifetime net revenue.

report_data.py calls load_frames() while it reads the marts; report.py lists CHARTS among its sections and puts
untreated_table() under them. A warehouse without the treatment mart or the engagement columns
reads as no data (logged), never a crash.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import altair as alt
import pandas as pd

from orchestration.serving.labels import LIFECYCLE_STAGES
from orchestration.serving.report_charts import CHART_WIDTH, no_data_chart
from orchestration.serving.report_data import add_months
from orchestration.serving.report_format import scrub_contact_details

log = logging.getLogger(__name__)

TREATMENT_MONTHS = 12
TABLE_ROWS = 50
UNTREATED_STAGES = ("vip", "inactive")
ENGAGEMENT_COLUMNS = ("visits_90d", "activities_90d", "last_activity_date", "last_visit_date")


def window(month: date) -> tuple[date, date]:
    return add_months(month, 1 - TREATMENT_MONTHS), month


def load_frames(m, month: date) -> dict[str, pd.DataFrame]:
    """Per month and stage the summed treatment counts of the window; the untreated VIP and
    dormant customers as of as_of_date. `m` reads the marts (report_data._Marts)."""
    first, last = window(month)
    frames = {
        "treatment": m.frame(
            "mart_customer_treatment_monthly",
            """
        select month, lifecycle_stage, sum(customers) as customers, sum(treated_customers) as treated,
               sum(ordered_treated) as ordered_treated, sum(ordered_untreated) as ordered_untreated
        from marts.mart_customer_treatment_monthly where month between ? and ?
        group by month, lifecycle_stage order by month, lifecycle_stage""",
            [first, last],
        )
    }
    frames["untreated"] = pd.DataFrame()
    if m.has("dim_customers"):
        missing = set(ENGAGEMENT_COLUMNS) - m.columns("dim_customers")
        if missing:
            log.warning("report: marts.dim_customers lacks %s; no untreated customers listed", sorted(missing))
        else:
            frames["untreated"] = m.frame(
                "dim_customers",
                """
                select account_id, account_name, owner_rep_id, team_id, lifecycle_stage, last_activity_date,
                       last_visit_date, lifetime_net_revenue
                from marts.dim_customers
                where (lifecycle_stage = 'vip' and coalesce(visits_90d, 0) = 0)
                   or (lifecycle_stage = 'inactive' and coalesce(activities_90d, 0) = 0)
                order by case when lifecycle_stage = 'vip' then 0 else 1 end,
                         lifetime_net_revenue desc nulls last, account_id""",
            )
    return frames


def _ratio(numerator, denominator) -> float | None:
    return float(numerator) / float(denominator) if denominator and not pd.isna(denominator) else None


def treatment_rate_rows(data, L: dict) -> list[dict]:
    """Per month (YYYY-MM) and stage with customers: customers, treated, treatment rate."""
    df = data.frames.get("treatment", pd.DataFrame())
    return [
        {
            "month": r.month,
            "stage": L[f"life_stage.{r.lifecycle_stage}"],
            "customers": int(r.customers),
            "treated": int(r.treated),
            "rate": _ratio(r.treated, r.customers),
        }
        for r in df.itertuples(index=False)
        if r.customers
    ]


def lift_rows(data, L: dict) -> list[dict]:
    """Per stage over the window, in lifecycle order: order rates of treated and untreated
    customers and the lift (None where a side has no customers)."""
    df = data.frames.get("treatment", pd.DataFrame())
    if df.empty:
        return []
    sums = df.groupby("lifecycle_stage")[["customers", "treated", "ordered_treated", "ordered_untreated"]].sum()
    rows = []
    for stage in [s for s in LIFECYCLE_STAGES if s in sums.index and sums.loc[s, "customers"] > 0]:
        s = sums.loc[stage]
        treated = _ratio(s.ordered_treated, s.treated)
        untreated = _ratio(s.ordered_untreated, s.customers - s.treated)
        rows.append(
            {
                "stage": L[f"life_stage.{stage}"],
                "treated_rate": treated,
                "untreated_rate": untreated,
                "lift": None if treated is None or untreated is None else treated - untreated,
            }
        )
    return rows


def _title(L: dict, key: str, data) -> str:
    first, last = window(data.report_month)
    return L[key].format(first=first.strftime("%Y-%m"), last=last.strftime("%Y-%m"))


def _rate_chart(data, L: dict) -> alt.TopLevelMixin:
    title = _title(L, "chart_treatment_rate", data)
    rows = treatment_rate_rows(data, L)
    if not rows:
        return no_data_chart(L, title)
    stages = [L[f"life_stage.{s}"] for s in LIFECYCLE_STAGES]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_line(point=True)
        .encode(
            x=alt.X("month:O", title=L["month"]),
            y=alt.Y("rate:Q", title=L["treatment_rate"], axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("stage:N", title=L["col_stage"], sort=stages),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("stage:N", title=L["col_stage"]),
                alt.Tooltip("rate:Q", title=L["treatment_rate"], format=".1%"),
                alt.Tooltip("treated:Q", title=L["treated_customers"]),
                alt.Tooltip("customers:Q", title=L["treatment_customers"]),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def _lift_chart(data, L: dict) -> alt.TopLevelMixin:
    title = _title(L, "chart_treatment_lift", data)
    rows = lift_rows(data, L)
    if not rows:
        return no_data_chart(L, title)
    sides = [("treated_rate", L["order_rate_treated"]), ("untreated_rate", L["order_rate_untreated"])]
    long = pd.DataFrame(
        [
            {"stage": r["stage"], "side": label, "rate": r[key], "lift": r["lift"]}
            for r in rows
            for key, label in sides
            if r[key] is not None
        ]
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("stage:N", title=L["col_stage"], sort=[r["stage"] for r in rows], axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("side:N", sort=[label for _, label in sides]),
            y=alt.Y("rate:Q", title=L["order_rate"], axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "side:N",
                title=L["measure"],
                sort=[label for _, label in sides],
                scale=alt.Scale(range=["#54a24b", "#bab0ac"]),
            ),
            tooltip=[
                alt.Tooltip("stage:N", title=L["col_stage"]),
                alt.Tooltip("side:N", title=L["measure"]),
                alt.Tooltip("rate:Q", title=L["order_rate"], format=".1%"),
                alt.Tooltip("lift:Q", title=L["order_rate_lift"], format="+.1%"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


CHARTS = [("treatment_rate", _rate_chart), ("treatment_lift", _lift_chart)]


def _day(value, L: dict) -> str:
    return L["never"] if value is None or pd.isna(value) else str(value)[:10]


def untreated_table(data, L: dict, money) -> dict:
    """The untreated VIP and dormant customers with their owners, at most TABLE_ROWS (money
    formats an amount)."""
    columns = [
        ("customer", "col_customer", False),
        ("stage", "col_stage", False),
        ("owner", "col_owner", False),
        ("team", "col_team", False),
        ("last_activity", "col_last_activity", False),
        ("last_visit", "col_last_visit", False),
        ("revenue", "col_lifetime_revenue", True),
    ]
    df = data.frames.get("untreated", pd.DataFrame())
    rows = []
    for r in df.head(TABLE_ROWS).itertuples(index=False):
        revenue = None if pd.isna(r.lifetime_net_revenue) else Decimal(f"{float(r.lifetime_net_revenue):.2f}")
        owner = r.owner_rep_id if isinstance(r.owner_rep_id, str) else None
        rows.append(
            {
                "key": r.account_id,
                "raw": {"revenue": "" if revenue is None else str(revenue)},
                "cells": {
                    "customer": scrub_contact_details(
                        r.account_name if isinstance(r.account_name, str) else r.account_id
                    ),
                    "stage": L[f"life_stage.{r.lifecycle_stage}"],
                    "owner": (
                        L["owner_none"] if owner is None else scrub_contact_details(data.rep_names.get(owner, owner))
                    ),
                    "team": "" if not isinstance(r.team_id, str) else r.team_id,
                    "last_activity": _day(r.last_activity_date, L),
                    "last_visit": _day(r.last_visit_date, L),
                    "revenue": money(revenue),
                },
            }
        )
    return {
        "id": "untreated",
        "note": L["untreated_table_note"].format(shown=len(rows), total=len(df)),
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows,
    }
