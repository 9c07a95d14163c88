"""The same two marts in plain pandas: what an analyst would write in a notebook.

    .venv/bin/python -m bench.pandas_marts --exports DIR --out DIR

Reads the canonical CSV exports (and the targets workbook) of one folder with pandas, computes
marts.mart_rep_kpi_monthly and marts.dim_customers by the definitions of ../shared/spec/marts.md,
and writes <out>/rep_kpi_monthly.parquet and <out>/dim_customers.parquet. Like the floor, it
assumes clean exports (valid rows; a deal is its latest version), reads reps and accounts as the
effective-dated histories of exports.md and attributes point in time (marts.md), and takes the
business-rule thresholds from the dbt project's vars and the stage and action tables from its seeds.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from bench.floor import rule_values
from orchestration.settings import DBT_PROJECT_DIR

SEEDS = DBT_PROJECT_DIR / "seeds"


def read_entity(exports: Path, entity: str, columns: dict[str, str]) -> pd.DataFrame:
    """Every CSV of an entity, only the wanted columns. columns: name -> str|float|int|date."""
    frames = [read_csv(path, columns) for path in sorted((exports / entity).glob("*.csv"))]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# a file without a date in its name is dated the day it landed: after every business date
LANDED = pd.Timestamp("2262-04-01")


def snapshot_rows(exports: Path, entity: str, key: str, columns: dict[str, str]) -> pd.DataFrame:
    """Every row of an effective-dated snapshot entity (exports.md "Snapshots are effective-dated")
    with its effective_date (valid_from, else its file's snapshot date: the date in a name like
    reps_2025-03-31.csv, else LANDED), file_rank (files by snapshot date, then name) and row_rank."""
    paths = sorted((exports / entity).glob("*.csv"))
    dated = {p: pd.Timestamp(m.group(1)) for p in paths if (m := re.search(r"_(\d{4}-\d{2}-\d{2})\.csv$", p.name))}
    paths.sort(key=lambda p: (dated.get(p, LANDED), p.name))
    frames = [
        read_csv(p, {**columns, "valid_from": "date"}).assign(snapshot_date=dated.get(p, LANDED), file_rank=rank)
        for rank, p in enumerate(paths)
    ]
    rows = pd.concat(frames, ignore_index=True)
    rows["effective_date"] = rows.valid_from.fillna(rows.snapshot_date)
    rows["row_rank"] = np.arange(len(rows))
    rows["key"] = rows[key]
    return rows


def restated(rows: pd.DataFrame) -> pd.DataFrame:
    """The versions that stand: a file restates a key from the earliest date it gives the key (the
    versions of earlier files effective on or after it go); per key and date the last row wins."""
    starts = rows.groupby(["key", "file_rank"]).effective_date.min().rename("file_start").reset_index()
    starts = starts.sort_values(["key", "file_rank"])
    later_min = starts.iloc[::-1].groupby("key").file_start.cummin().iloc[::-1]
    starts["restated_from"] = later_min.groupby(starts.key).shift(-1)
    kept = rows.merge(starts[["key", "file_rank", "restated_from"]], on=["key", "file_rank"])
    kept = kept[kept.restated_from.isna() | (kept.effective_date < kept.restated_from)]
    return (
        kept.sort_values(["key", "effective_date", "file_rank", "row_rank"])
        .drop_duplicates(["key", "effective_date"], keep="last")
        .drop(columns="restated_from")
    )


def current(rows: pd.DataFrame) -> pd.DataFrame:
    """The current state: the newest file's rows, per key the one with the greatest effective date."""
    newest = rows[rows.file_rank == rows.file_rank.max()]
    return (
        newest.sort_values(["effective_date", "row_rank"])
        .drop_duplicates("key", keep="last")
        .sort_values("row_rank")
        .reset_index(drop=True)
    )


def state_on(versions: pd.DataFrame, keys: pd.Series, days: pd.Series, column: str) -> pd.Series:
    """`column` of each key's state on its day: the version with the greatest effective date <= day,
    before the earliest version that earliest one. Aligned to keys' index; NaN for unknown keys."""
    wanted = pd.DataFrame(
        {
            "key": keys.to_numpy(),
            "day": pd.to_datetime(days.to_numpy()).astype("datetime64[us]"),
            "position": np.arange(len(keys)),
        }
    )
    ordered = versions.sort_values("effective_date")[["key", "effective_date", column]]
    ordered = ordered.astype({"effective_date": "datetime64[us]"})
    found = pd.merge_asof(
        wanted[wanted.key.notna()].sort_values("day"),
        ordered,
        left_on="day",
        right_on="effective_date",
        by="key",
        direction="backward",
    )
    earliest = ordered.drop_duplicates("key").set_index("key")[column]
    value = found[column].where(found.effective_date.notna(), found.key.map(earliest))
    return pd.Series(value.to_numpy(), index=found.position.to_numpy()).reindex(range(len(keys))).set_axis(keys.index)


def read_csv(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """One CSV, only the wanted columns. columns: name -> str|float|int|date."""
    dates = [c for c, kind in columns.items() if kind == "date"]
    dtypes = {
        c: {"str": "str", "float": "float64", "int": "Int64"}[kind] for c, kind in columns.items() if kind != "date"
    }
    frame = pd.read_csv(path, usecols=list(columns), dtype=dtypes, parse_dates=dates)
    for column in dates:  # an empty or all-blank column is not parsed to dates by read_csv
        if not pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def read_targets(exports: Path) -> pd.DataFrame:
    folder = exports / "targets"
    frames = [
        pd.read_excel(p, dtype={"rep_id": "str", "team_id": "str", "month": "str"}, engine="calamine")
        for p in sorted(folder.glob("*.xlsx"))
    ]
    frames += [
        pd.read_csv(p, dtype={"rep_id": "str", "team_id": "str", "month": "str"}) for p in sorted(folder.glob("*.csv"))
    ]
    targets = pd.concat(frames, ignore_index=True)
    targets["rep_id"] = targets["rep_id"].replace("", np.nan)
    targets["month"] = pd.to_datetime(targets["month"] + "-01")
    return targets


def month_of(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp()


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """NULL (NaN) when the denominator is 0 or NULL."""
    return numerator.astype("float64") / denominator.astype("float64").where(denominator != 0)


def ntile(frame: pd.DataFrame, by: list[str], ascending: list[bool], buckets: int = 5) -> pd.Series:
    """SQL NTILE(buckets) over the rows of `frame` in the given order."""
    order = frame.sort_values(by, ascending=ascending).index
    n = len(order)
    size, bigger = divmod(n, buckets)  # the first `bigger` buckets hold size + 1 rows
    position = np.arange(n)
    cut = bigger * (size + 1)
    tile = np.where(position < cut, position // (size + 1), bigger + (position - cut) // max(size, 1)) + 1
    return pd.Series(tile, index=order).reindex(frame.index)


def load(exports: Path) -> dict[str, pd.DataFrame]:
    d = {
        "orders": read_entity(
            exports,
            "orders",
            {"order_id": "str", "account_id": "str", "rep_id": "str", "order_date": "date", "status": "str"},
        ),
        "lines": read_entity(
            exports,
            "order_lines",
            {"order_id": "str", "quantity": "float", "unit_price": "float", "discount_amount": "float"},
        ),
        "returns": read_entity(
            exports, "returns", {"order_id": "str", "return_date": "date", "refund_amount": "float"}
        ),
        "account_rows": snapshot_rows(
            exports,
            "accounts",
            "account_id",
            {
                "account_id": "str",
                "account_name": "str",
                "industry": "str",
                "region": "str",
                "city": "str",
                "owner_rep_id": "str",
                "created_at": "date",
            },
        ),
        "rep_rows": snapshot_rows(
            exports,
            "reps",
            "rep_id",
            {
                "rep_id": "str",
                "rep_name": "str",
                "team_id": "str",
                "region": "str",
                "hire_date": "date",
                "end_date": "date",
            },
        ),
        "teams": read_entity(exports, "teams", {"team_id": "str", "region": "str", "valid_from": "date"}),
        "opps": read_entity(
            exports,
            "opportunities",
            {
                "opportunity_id": "str",
                "owner_rep_id": "str",
                "stage": "str",
                "created_at": "date",
                "close_date": "date",
                "amount": "float",
                "updated_at": "date",
            },
        ),
        "history": read_entity(exports, "opportunity_stage_history", {"entered_at": "date"}),
        "activities": read_entity(
            exports,
            "activities",
            {
                "rep_id": "str",
                "account_id": "str",
                "activity_type": "str",
                "direction": "str",
                "occurred_at": "date",
                "responded_at": "date",
            },
        ),
        "surveys": read_entity(
            exports,
            "survey_responses",
            {
                "response_id": "str",
                "survey_type": "str",
                "submitted_at": "date",
                "score": "int",
                "account_id": "str",
                "contact_id": "str",
                "order_id": "str",
                "case_id": "str",
            },
        ),
        "contacts": read_entity(exports, "contacts", {"contact_id": "str", "account_id": "str"}),
        "cases": read_entity(
            exports,
            "cases",
            {"case_id": "str", "account_id": "str", "opened_at": "date", "resolved_at": "date", "category": "str"},
        ),
        "targets": read_targets(exports),
    }
    d["accounts"], d["owners"] = current(d["account_rows"]), restated(d["account_rows"])
    # a rep without a region has the team's (teams arrive as one undated snapshot)
    teams = (
        d["teams"]
        .sort_values("valid_from", na_position="first")
        .drop_duplicates("team_id", keep="last")
        .set_index("team_id")
        .region
    )
    d["rep_rows"]["region"] = d["rep_rows"].region.fillna(d["rep_rows"].team_id.map(teams))
    d["reps"], d["rep_versions"] = current(d["rep_rows"]), restated(d["rep_rows"])
    # a deal's latest version (last row)
    d["opps"] = d["opps"].drop_duplicates("opportunity_id", keep="last").reset_index(drop=True)
    stages = pd.read_csv(SEEDS / "opportunity_stages.csv", dtype={"stage": "str"})
    d["opps"] = d["opps"].merge(stages[["stage", "is_closed", "is_won"]], on="stage", how="left")
    d["opps"][["is_closed", "is_won"]] = d["opps"][["is_closed", "is_won"]].fillna(False).astype(bool)
    return d


def calendar(d: dict[str, pd.DataFrame]) -> dict[str, pd.Timestamp]:
    """as_of_date (the latest business event), its month, the first month of data, now_ts."""
    opps = d["opps"]
    dates = pd.concat(
        [
            d["orders"].order_date,
            opps.created_at.dt.normalize(),
            opps.updated_at.dt.normalize(),
            opps.close_date[opps.is_closed],
            d["history"].entered_at.dt.normalize(),
            d["activities"].occurred_at.dt.normalize(),
            d["surveys"].submitted_at.dt.normalize(),
        ]
    )
    as_of = dates.max()
    return {
        "as_of_date": as_of,
        "as_of_month": as_of.to_period("M").to_timestamp(),
        "first_month": dates.min().to_period("M").to_timestamp(),
        "now_ts": as_of + pd.Timedelta(days=1),
    }


def completed_sales(d: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Completed orders with net amount, units and rep (the order's, else the account's owner on the
    order date), and the refunds on them."""
    lines = d["lines"]
    lines["net_amount"] = (lines.quantity * lines.unit_price - lines.discount_amount.fillna(0)).round(2)
    totals = lines.groupby("order_id").agg(net_amount=("net_amount", "sum"), units=("quantity", "sum"))
    sales = d["orders"][d["orders"].status == "completed"].merge(
        totals, left_on="order_id", right_index=True, how="left"
    )
    sales["rep_id"] = sales.rep_id.fillna(state_on(d["owners"], sales.account_id, sales.order_date, "owner_rep_id"))
    sales[["net_amount", "units"]] = sales[["net_amount", "units"]].fillna(0)
    sales["order_month"] = month_of(sales.order_date)
    refunds = d["returns"].merge(sales[["order_id", "account_id", "rep_id"]], on="order_id")
    refunds["return_month"] = month_of(refunds.return_date)
    return sales, refunds


def rep_kpi_monthly(d: dict[str, pd.DataFrame], cal: dict, sales: pd.DataFrame, refunds: pd.DataFrame) -> pd.DataFrame:
    keys = ["rep_id", "month"]
    reps = d["reps"]

    # sales, refunds, new customers (the rep of the account's first completed order)
    sold = sales[sales.rep_id.notna()].rename(columns={"order_month": "month"})
    order_facts = sold.groupby(keys).agg(
        gross_revenue=("net_amount", "sum"),
        orders_count=("order_id", "size"),
        units_sold=("units", "sum"),
        active_customers=("account_id", "nunique"),
    )
    refund_facts = (
        refunds[refunds.rep_id.notna()]
        .rename(columns={"return_month": "month"})
        .groupby(keys)
        .agg(refunds_amount=("refund_amount", "sum"))
    )
    first_orders = sales.sort_values(["order_date", "order_id"]).drop_duplicates("account_id")
    new_facts = (
        first_orders[first_orders.rep_id.notna()]
        .rename(columns={"order_month": "month"})
        .groupby(keys)
        .size()
        .rename("new_customers")
        .to_frame()
    )

    # opportunities: created in the month of created_date, won/lost in the month of close_date
    opps = d["opps"][d["opps"].owner_rep_id.notna()].rename(columns={"owner_rep_id": "rep_id"})
    created = opps[opps.created_at.notna()].assign(month=lambda f: month_of(f.created_at))
    created_facts = created.groupby(keys).size().rename("opportunities_created").to_frame()
    closed = opps[opps.is_closed & opps.close_date.notna()].assign(month=lambda f: month_of(f.close_date))
    won = closed.is_won
    closed = closed.assign(
        won=won.astype(int),
        lost=(~won).astype(int),
        won_amount=closed.amount.fillna(0).where(won, 0),
        cycle_days=(closed.close_date - closed.created_at.dt.normalize()).dt.days.where(won),
    )
    closed_facts = closed.groupby(keys).agg(
        opportunities_won=("won", "sum"),
        opportunities_lost=("lost", "sum"),
        won_amount=("won_amount", "sum"),
        sales_cycle_days_total=("cycle_days", "sum"),
        sales_cycle_deals=("cycle_days", "count"),
    )

    # activities
    act = d["activities"].assign(month=lambda f: month_of(f.occurred_at))
    email = act.activity_type == "email"
    inbound = email & (act.direction == "inbound")
    act = act.assign(
        calls=act.activity_type == "call",
        visits=act.activity_type == "visit",
        meetings=act.activity_type == "meeting",
        demos=act.activity_type == "demo",
        emails_sent=email & (act.direction == "outbound"),
        inbound_emails=inbound,
        inbound_emails_answered=inbound & act.responded_at.notna(),
        email_response_hours_total=(act.responded_at - act.occurred_at).dt.total_seconds().where(inbound) / 3600,
    )
    activity_columns = [
        "calls",
        "visits",
        "meetings",
        "demos",
        "emails_sent",
        "inbound_emails",
        "inbound_emails_answered",
        "email_response_hours_total",
    ]
    activity_facts = act.groupby(keys)[activity_columns].sum()

    # surveys: the rep of the response's order (else that account's owner on the order date), else
    # its account's owner on the submission date
    order_reps = d["orders"][["order_id", "account_id", "rep_id", "order_date"]].copy()
    order_reps["order_rep"] = order_reps.rep_id.fillna(
        state_on(d["owners"], order_reps.account_id, order_reps.order_date, "owner_rep_id")
    )
    surveys = d["surveys"].merge(order_reps[["order_id", "order_rep"]], on="order_id", how="left", indicator=True)
    owner_then = state_on(d["owners"], surveys.account_id, surveys.submitted_at.dt.normalize(), "owner_rep_id")
    surveys["rep_id"] = surveys.order_rep.where(surveys["_merge"] == "both", owner_then)
    surveys = surveys[surveys.rep_id.notna()].assign(month=lambda f: month_of(f.submitted_at))
    nps, csat = surveys.survey_type == "nps", surveys.survey_type == "csat"
    surveys = surveys.assign(
        nps_responses=nps,
        nps_promoters=nps & (surveys.score >= 9),
        nps_detractors=nps & (surveys.score <= 6),
        csat_responses=csat,
        csat_satisfied=csat & (surveys.score >= 4),
    )
    survey_facts = surveys.groupby(keys)[
        ["nps_responses", "nps_promoters", "nps_detractors", "csat_responses", "csat_satisfied"]
    ].sum()

    # complaints: the account's owner on the day the case was opened
    complaints = d["cases"][d["cases"].category == "complaint"]
    owner_then = (
        state_on(d["owners"], complaints.account_id, complaints.opened_at.dt.normalize(), "owner_rep_id")
        if len(complaints)
        else pd.Series(dtype=object)
    )  # merge_asof refuses an empty key column
    complaints = complaints.assign(rep_id=owner_then, month=month_of(complaints.opened_at))
    complaint_facts = complaints[complaints.rep_id.notna()].groupby(keys).size().rename("complaints_opened").to_frame()

    # zero-filled rep months: the employment span plus every month with a fact
    months = pd.DataFrame({"month": pd.date_range(cal["first_month"], cal["as_of_month"], freq="MS")})
    first_kpi = month_of(reps.hire_date).fillna(cal["first_month"]).clip(lower=cal["first_month"])
    last_kpi = month_of(reps.end_date).fillna(cal["as_of_month"]).clip(upper=cal["as_of_month"])
    span = reps[["rep_id"]].assign(first_kpi=first_kpi, last_kpi=last_kpi).merge(months, how="cross")
    span = span[(span.month >= span.first_kpi) & (span.month <= span.last_kpi)][keys]
    facts = [
        order_facts,
        refund_facts,
        new_facts,
        created_facts,
        closed_facts,
        activity_facts,
        survey_facts,
        complaint_facts,
    ]
    rep_months = pd.concat([span, *(f.index.to_frame(index=False) for f in facts)]).drop_duplicates()
    kpis = rep_months.set_index(keys).join(facts).fillna(0).reset_index()

    targets = d["targets"][d["targets"].rep_id.notna()].pivot_table(
        index=keys, columns="metric", values="target_value", aggfunc="sum"
    )
    targets = targets.reindex(columns=["net_revenue", "new_customers", "visits", "csat_rate", "nps"]).rename(
        columns={
            "net_revenue": "revenue_target",
            "new_customers": "new_customers_target",
            "visits": "visits_target",
            "csat_rate": "csat_target",
            "nps": "nps_target",
        }
    )
    kpis = kpis.merge(targets, left_on=keys, right_index=True, how="left").merge(
        reps[["rep_id", "rep_name"]], on="rep_id", how="left"
    )
    # the rep's team and region in the month: its state on the month's last day (as_of_date at most)
    month_end = (kpis.month + pd.offsets.MonthEnd(0)).clip(upper=cal["as_of_date"])
    for column in ("team_id", "region"):
        kpis[column] = state_on(d["rep_versions"], kpis.rep_id, month_end, column)
    k = kpis
    k["net_revenue"] = k.gross_revenue - k.refunds_amount
    k["opportunities_closed"] = k.opportunities_won + k.opportunities_lost
    k["win_rate"] = ratio(k.opportunities_won, k.opportunities_closed)
    k["avg_deal_size"] = ratio(k.won_amount, k.opportunities_won).round(2)
    k["avg_sales_cycle_days"] = ratio(k.sales_cycle_days_total, k.sales_cycle_deals)
    k["avg_email_response_hours"] = ratio(k.email_response_hours_total, k.inbound_emails_answered)
    k["nps"] = ratio(k.nps_promoters - k.nps_detractors, k.nps_responses) * 100
    k["csat_rate"] = ratio(k.csat_satisfied, k.csat_responses)
    k["revenue_attainment"] = ratio(k.net_revenue, k.revenue_target)
    k["new_customers_attainment"] = ratio(k.new_customers, k.new_customers_target)
    k["visits_attainment"] = ratio(k.visits, k.visits_target)
    k["complaints_per_100_orders"] = ratio(k.complaints_opened, k.orders_count) * 100
    k["refund_rate"] = ratio(k.refunds_amount, k.gross_revenue)
    k["csat_attainment"] = ratio(k.csat_rate, k.csat_target)
    k["nps_gap"] = k.nps - k.nps_target
    for suffix, months_back in (("prev_month", 1), ("prev_year", 12)):
        earlier = k[keys + ["net_revenue"]].rename(columns={"net_revenue": f"net_revenue_{suffix}"})
        earlier["month"] = earlier.month + pd.DateOffset(months=months_back)
        k = k.merge(earlier, on=keys, how="left")
    k["revenue_growth_mom"] = ratio(k.net_revenue, k.net_revenue_prev_month) - 1
    k["revenue_growth_yoy"] = ratio(k.net_revenue, k.net_revenue_prev_year) - 1
    return k


def dim_customers(d: dict[str, pd.DataFrame], cal: dict, sales: pd.DataFrame, refunds: pd.DataFrame) -> pd.DataFrame:
    as_of, now_ts = cal["as_of_date"], cal["now_ts"]
    accounts = d["accounts"]
    rules = rule_values()

    # completed orders up to as_of of known accounts, minus their refunds dated up to as_of
    refunded = refunds[refunds.return_date <= as_of].groupby("order_id").refund_amount.sum()
    history = sales[(sales.order_date <= as_of) & sales.account_id.isin(accounts.account_id)].copy()
    history["net"] = history.net_amount - history.order_id.map(refunded).fillna(0)
    recent = history.order_date > as_of - pd.Timedelta(days=365)
    history = history.assign(recent_order=recent, recent_net=history.net.where(recent, 0))
    customers = (
        history.groupby("account_id")
        .agg(
            first_order_date=("order_date", "min"),
            last_order_date=("order_date", "max"),
            lifetime_orders=("order_id", "size"),
            lifetime_net_revenue=("net", "sum"),
            orders_365d=("recent_order", "sum"),
            net_revenue_365d=("recent_net", "sum"),
        )
        .reset_index()
    )
    customers["recency_days"] = (as_of - customers.last_order_date).dt.days
    days_since_first = (as_of - customers.first_order_date).dt.days

    customers["r_score"] = ntile(customers, ["recency_days", "account_id"], [False, True])
    customers["f_score"] = ntile(customers, ["lifetime_orders", "account_id"], [True, True])
    customers["m_score"] = ntile(customers, ["lifetime_net_revenue", "account_id"], [True, True])
    customers["rfm_code"] = (
        customers.r_score.astype(str) + customers.f_score.astype(str) + customers.m_score.astype(str)
    )

    # VIP: the top ceil(share x count) of the accounts with net_revenue_365d > 0 (exact decimal share)
    candidates = customers[customers.net_revenue_365d > 0].sort_values(
        ["net_revenue_365d", "account_id"], ascending=[False, True]
    )
    slots = math.ceil(len(candidates) * Decimal(str(rules["vip_share"])))
    vip = customers.account_id.isin(candidates.account_id.head(slots))
    customers["lifecycle_stage"] = np.select(
        [
            customers.recency_days > rules["inactive_days"],
            vip,
            days_since_first < rules["new_days"],
            customers.orders_365d >= rules["loyal_orders_365d"],
        ],
        ["inactive", "vip", "new", "loyal"],
        default="active",
    )

    # service: the latest NPS score (by submitted_at, then response_id) and the open cases
    surveys = d["surveys"]
    nps = surveys[(surveys.survey_type == "nps") & (surveys.submitted_at < now_ts)].copy()
    nps["account_id"] = (
        nps.account_id.fillna(nps.order_id.map(d["orders"].set_index("order_id").account_id))
        .fillna(nps.contact_id.map(d["contacts"].set_index("contact_id").account_id))
        .fillna(nps.case_id.map(d["cases"].set_index("case_id").account_id))
    )
    latest_nps = (
        nps[nps.account_id.notna()]
        .sort_values(["submitted_at", "response_id"])
        .drop_duplicates("account_id", keep="last")
        .set_index("account_id")
        .score
    )
    cases = d["cases"]
    is_open = (cases.opened_at < now_ts) & (cases.resolved_at.isna() | (cases.resolved_at >= now_ts))
    open_cases = cases[is_open].groupby("account_id").size()

    actions = pd.read_csv(SEEDS / "lifecycle_actions.csv").set_index("lifecycle_stage").recommended_action
    # the present: the owner on as_of_date and that rep's team on as_of_date
    dim = accounts.merge(customers, on="account_id", how="left")
    today = pd.Series(as_of, index=dim.index)
    dim["owner_rep_id"] = state_on(d["owners"], dim.account_id, today, "owner_rep_id")
    dim["team_id"] = state_on(d["rep_versions"], dim.owner_rep_id, today, "team_id")
    dim["created_date"] = dim.created_at.dt.normalize()
    dim[["lifetime_orders", "lifetime_net_revenue", "orders_365d", "net_revenue_365d"]] = dim[
        ["lifetime_orders", "lifetime_net_revenue", "orders_365d", "net_revenue_365d"]
    ].fillna(0)
    dim["lifecycle_stage"] = dim.lifecycle_stage.fillna("prospect")
    dim["recommended_action"] = dim.lifecycle_stage.map(actions)
    dim["latest_nps_score"] = dim.account_id.map(latest_nps)
    dim["open_cases"] = dim.account_id.map(open_cases).fillna(0).astype(int)
    dim = dim.merge(touches(d["activities"], as_of, now_ts), on="account_id", how="left")
    dim[["activities_90d", "visits_90d"]] = dim[["activities_90d", "visits_90d"]].fillna(0).astype(int)
    dim["days_since_last_touch"] = (as_of - dim.last_activity_date).dt.days.astype("Int64")
    return dim[
        [
            "account_id",
            "account_name",
            "industry",
            "region",
            "city",
            "owner_rep_id",
            "team_id",
            "created_date",
            "first_order_date",
            "last_order_date",
            "lifetime_orders",
            "lifetime_net_revenue",
            "orders_365d",
            "net_revenue_365d",
            "recency_days",
            "r_score",
            "f_score",
            "m_score",
            "rfm_code",
            "lifecycle_stage",
            "recommended_action",
            "latest_nps_score",
            "open_cases",
            "last_activity_date",
            "last_visit_date",
            "activities_90d",
            "visits_90d",
            "days_since_last_touch",
        ]
    ]


def touches(activities: pd.DataFrame, as_of: pd.Timestamp, now_ts: pd.Timestamp) -> pd.DataFrame:
    """Per account, its sales touches up to as_of: the last activity and visit, those of the last 90
    days ((as_of - 90 days, as_of]); an activity without an account touches no customer."""
    acts = activities[activities.account_id.notna() & (activities.occurred_at < now_ts)]
    day = acts.occurred_at.dt.normalize()
    recent, visit = day > as_of - pd.Timedelta(days=90), acts.activity_type == "visit"
    frame = pd.DataFrame(
        {
            "account_id": acts.account_id,
            "day": day,
            "visit_day": day.where(visit),
            "recent": recent.astype(int),
            "recent_visit": (recent & visit).astype(int),
        }
    )
    return frame.groupby("account_id", as_index=False).agg(
        last_activity_date=("day", "max"),
        last_visit_date=("visit_day", "max"),
        activities_90d=("recent", "sum"),
        visits_90d=("recent_visit", "sum"),
    )


def compute(exports: Path) -> dict[str, pd.DataFrame]:
    d = load(Path(exports))
    cal = calendar(d)
    sales, refunds = completed_sales(d)
    return {
        "rep_kpi_monthly": rep_kpi_monthly(d, cal, sales, refunds),
        "dim_customers": dim_customers(d, cal, sales, refunds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for name, frame in compute(args.exports).items():
        frame.to_parquet(args.out / f"{name}.parquet", index=False)
    print(f"pandas: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
