"""The report's "Deals going cold" section (marts.md fct_opportunities engagement columns).

The open deals that are stale (no touch in the last 30 days) or past due (close date before
as_of_date), as of the data's as_of date:
- per owner, how many are stale and how many past due, with the amount at stake (a deal both
  stale and past due counts once in the amount), owners with the most at stake first;
- the deals themselves, largest first.

report_data.py calls load_frames() while it reads the marts; report.py lists CHARTS among its sections and puts
cold_deals_table() under them. A warehouse built before the engagement columns existed reads as
no data (logged), never a crash.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import altair as alt
import pandas as pd

from orchestration.serving.report_charts import CHART_WIDTH, no_data_chart
from orchestration.serving.report_format import scrub_contact_details

log = logging.getLogger(__name__)

MAX_OWNERS = 25  # owners on the chart (the total is stated)
TABLE_ROWS = 50  # deals listed (the total is stated)
ENGAGEMENT_COLUMNS = ("is_stale", "is_past_due", "last_activity_date", "days_in_current_stage")


def load_frames(m, month) -> dict[str, pd.DataFrame]:
    """The section's frames; `m` reads the marts (report_data._Marts). The flags are as of as_of_date,
    so `month` is not used: the signature is the one every section's loader has."""
    if not m.has("fct_opportunities"):
        return {"cold_deals": pd.DataFrame()}
    missing = set(ENGAGEMENT_COLUMNS) - m.columns("fct_opportunities")
    if missing:
        log.warning("report: marts.fct_opportunities lacks %s; the cold deals show no data", sorted(missing))
        return {"cold_deals": pd.DataFrame()}
    names = m.columns("dim_customers") >= {"account_id", "account_name"} and m.has("dim_customers")
    account = "customers.account_name" if names else "cast(null as varchar)"
    join = "left join marts.dim_customers as customers on deals.account_id = customers.account_id" if names else ""
    return {
        "cold_deals": m.frame(
            "fct_opportunities",
            f"""
        select deals.opportunity_id, deals.account_id, {account} as account_name, deals.owner_rep_id,
               deals.team_id, deals.stage, deals.amount, deals.close_date, deals.last_activity_date,
               deals.days_in_current_stage, deals.is_stale, deals.is_past_due
        from marts.fct_opportunities as deals {join}
        where deals.status = 'open' and (deals.is_stale or deals.is_past_due)
        order by deals.amount desc nulls last, deals.opportunity_id""",
        )
    }


def _cents(value) -> Decimal:
    return Decimal(0) if value is None or pd.isna(value) else Decimal(f"{float(value):.2f}")


def owner_rows(data) -> list[dict]:
    """Per owner (None: no owner): stale and past-due deal counts, the deals either way and their
    amount, most amount first (then owner id)."""
    df = data.frames.get("cold_deals", pd.DataFrame())
    if df.empty:
        return []
    per_owner: dict = {}
    for r in df.itertuples(index=False):
        owner = r.owner_rep_id if isinstance(r.owner_rep_id, str) else None
        row = per_owner.setdefault(
            owner, {"owner_rep_id": owner, "stale": 0, "past_due": 0, "deals": 0, "amount": Decimal(0)}
        )
        row["stale"] += bool(r.is_stale)
        row["past_due"] += bool(r.is_past_due)
        row["deals"] += 1
        row["amount"] += _cents(r.amount)
    return sorted(per_owner.values(), key=lambda o: (-o["amount"], o["owner_rep_id"] or "~"))


def _owner_name(data, L: dict, owner: str | None) -> str:
    return L["owner_none"] if owner is None else scrub_contact_details(data.rep_names.get(owner, owner))


def _owners_chart(data, L: dict) -> alt.TopLevelMixin:
    as_of = data.as_of_date.isoformat() if data.as_of_date else L["unknown"]
    title = L["chart_cold_deals"].format(as_of=as_of)
    owners = owner_rows(data)
    if not owners:
        return no_data_chart(L, title)
    if len(owners) > MAX_OWNERS:
        title = alt.TitleParams(
            title,
            subtitle=L["capped_note"].format(
                shown=MAX_OWNERS, total=len(owners), order=L["order.most_cold_amount"], table="fct_opportunities"
            ),
        )
        owners = owners[:MAX_OWNERS]
    kinds = [("stale", L["stale_deals"]), ("past_due", L["past_due_deals"])]
    long = pd.DataFrame(
        [
            {
                "owner": _owner_name(data, L, o["owner_rep_id"]),
                "order": i,
                "kind": label,
                "deals": o[key],
                "amount": float(o["amount"]),
            }
            for i, o in enumerate(owners)
            for key, label in kinds
        ]
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(
                "owner:N", title=L["col_owner"], sort=alt.EncodingSortField("order"), axis=alt.Axis(labelAngle=-45)
            ),
            xOffset=alt.XOffset("kind:N", sort=[label for _, label in kinds]),
            y=alt.Y("deals:Q", title=L["cold_deal_count"]),
            color=alt.Color(
                "kind:N",
                title=L["measure"],
                sort=[label for _, label in kinds],
                scale=alt.Scale(range=["#4c78a8", "#e45756"]),
            ),
            tooltip=[
                alt.Tooltip("owner:N", title=L["col_owner"]),
                alt.Tooltip("kind:N", title=L["measure"]),
                alt.Tooltip("deals:Q", title=L["cold_deal_count"]),
                alt.Tooltip("amount:Q", title=L["cold_amount"], format=",.2f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


CHARTS = [("cold_deals", _owners_chart)]


def _flags(r, L: dict) -> str:
    return "; ".join(
        label for flag, label in ((r.is_stale, L["stale_deals"]), (r.is_past_due, L["past_due_deals"])) if bool(flag)
    )


def cold_deals_table(data, L: dict, money) -> dict:
    """The cold deals, largest first, at most TABLE_ROWS (money formats an amount)."""
    columns = [
        ("deal", "col_deal", False),
        ("customer", "col_customer", False),
        ("owner", "col_owner", False),
        ("stage", "stage", False),
        ("amount", "amount", True),
        ("close_date", "col_close_date", False),
        ("last_activity", "col_last_activity", False),
        ("days_in_stage", "col_days_in_stage", True),
        ("flags", "col_cold_reason", False),
    ]
    df = data.frames.get("cold_deals", pd.DataFrame())
    rows = []
    for r in df.head(TABLE_ROWS).itertuples(index=False):
        days = None if pd.isna(r.days_in_current_stage) else int(r.days_in_current_stage)
        rows.append(
            {
                "key": r.opportunity_id,
                "raw": {
                    "amount": "" if pd.isna(r.amount) else str(_cents(r.amount)),
                    "days_in_stage": "" if days is None else str(days),
                },
                "cells": {
                    "deal": r.opportunity_id,
                    "customer": scrub_contact_details(
                        r.account_name if isinstance(r.account_name, str) else r.account_id
                    ),
                    "owner": _owner_name(data, L, r.owner_rep_id if isinstance(r.owner_rep_id, str) else None),
                    "stage": L.get(f"opp_stage.{r.stage}", r.stage),
                    "amount": money(None if pd.isna(r.amount) else _cents(r.amount)),
                    "close_date": "" if pd.isna(r.close_date) else str(r.close_date)[:10],
                    "last_activity": L["never"] if pd.isna(r.last_activity_date) else str(r.last_activity_date)[:10],
                    "days_in_stage": "—" if days is None else f"{days:,}",
                    "flags": _flags(r, L),
                },
            }
        )
    return {
        "id": "cold-deals",
        "note": L["cold_deals_table_note"].format(shown=len(rows), total=len(df)),
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows,
    }
