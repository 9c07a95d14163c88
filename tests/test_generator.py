"""The demo-data generator writes the canonical export format (exports.md) deterministically, at a
scale that grows linearly, with content that gives every mart something to show, and in dirty mode
exactly the bad inputs its manifest lists.

Every check re-reads the written files with the csv module / pandas / openpyxl and applies the
rules of exports.md as written there, independently of the generator's code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from demo import MANIFEST_NAME, generate, generate_next_day
from ingestion.canonical import ENTITIES

SCALE = 0.1
MONTHS = 24
START = "2024-01"
LAST_DAY = date(2025, 12, 31)


# --- fixtures: one generation per variant, shared by the module --------------------------------
@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, scale=SCALE, seed=42, start=START, months=MONTHS)
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, scale=SCALE, seed=42, start=START, months=MONTHS, dirty=True)
    return out


@pytest.fixture(scope="module")
def double(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("double")
    generate(out, scale=2 * SCALE, seed=42, start=START, months=MONTHS)
    return out


# --- reading the files back ---------------------------------------------------------------------
def manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV or a one-sheet workbook, every value as text ('' = NULL)."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        return rows[0], rows[1:]
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def entity_frame(out: Path, entity: str) -> pd.DataFrame:
    files = [p for p in (out / entity).iterdir() if p.stem == entity]
    header, rows = read_rows(files[0])
    return pd.DataFrame(rows, columns=header, dtype=str)


def current_state(frame: pd.DataFrame, entity: str) -> pd.DataFrame:
    """exports.md: per key the row with the greatest valid_from (snapshots), then the latest row."""
    if "valid_from" in frame:
        frame = frame.sort_values("valid_from", kind="stable")
    return frame.drop_duplicates(list(ENTITIES[entity].key), keep="last")


def sha256_of_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- the rules of exports.md, applied to one row --------------------------------------------------
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_INTEGER = re.compile(r"^-?\d+$")
_FORMATS = {"DATE": "%Y-%m-%d", "TIMESTAMP": "%Y-%m-%d %H:%M:%S"}


def _parses(value: str, column) -> bool:
    if column.is_month:
        return _strict_time(value, "%Y-%m") and len(value) == 7
    if column.type in _FORMATS:
        return _strict_time(value, _FORMATS[column.type])
    if column.type == "INTEGER":
        return bool(_INTEGER.match(value))
    if column.type.startswith("DECIMAL"):
        return bool(_NUMBER.match(value))
    return True


def _strict_time(value: str, fmt: str) -> bool:
    try:
        return datetime.strptime(value, fmt).strftime(fmt) == value
    except ValueError:
        return False


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def row_problems(entity: str, row: dict[str, str]) -> set[str]:
    """The columns of `row` that break exports.md (required, parseable, enum, row rules, currency)."""
    problems = set()
    for column in ENTITIES[entity].columns:
        value = row[column.name]
        if value == "":
            if column.required:
                problems.add(column.name)
            continue
        if not _parses(value, column) or (column.enum and value not in column.enum):
            problems.add(column.name)
    num = {k: _decimal(v) if _NUMBER.match(v or "x") else None for k, v in row.items()}
    if entity == "order_lines":
        if num["quantity"] is not None and num["quantity"] <= 0:
            problems.add("quantity")
        if num["unit_price"] is not None and num["unit_price"] < 0:
            problems.add("unit_price")
        if num["discount_amount"] is not None and num["quantity"] is not None and num["unit_price"] is not None:
            if num["discount_amount"] < 0 or num["discount_amount"] > num["quantity"] * num["unit_price"]:
                problems.add("discount_amount")
    if entity == "returns" and num["refund_amount"] is not None and num["refund_amount"] < 0:
        problems.add("refund_amount")
    if entity == "survey_responses" and _INTEGER.match(row["score"] or "x"):
        low, high = {"nps": (0, 10), "csat": (1, 5)}.get(row["survey_type"], (0, 10))
        if not low <= int(row["score"]) <= high:
            problems.add("score")
    if entity == "targets" and (row["rep_id"] == "") == (row["team_id"] == ""):
        problems.add("rep_id")
    if "currency" in row and row["currency"] not in ("", "CNY"):
        problems.add("currency")
    return problems


# --- determinism ----------------------------------------------------------------------------------
def test_same_arguments_give_identical_bytes_and_another_seed_differs(tmp_path):
    small = dict(scale=0.05, start=START, months=6, dirty=True)
    generate(tmp_path / "first", seed=42, **small)
    generate(tmp_path / "again", seed=42, **small)
    first, second = sha256_of_tree(tmp_path / "first"), sha256_of_tree(tmp_path / "again")
    assert first == second
    assert any(name.endswith(".xlsx") for name in first)  # the workbooks too

    generate(tmp_path / "other", seed=43, **small)
    different = sha256_of_tree(tmp_path / "other")
    for name in (
        "orders/orders.csv",
        "order_lines/order_lines.csv",
        "accounts/accounts.csv",
        "activities/activities.csv",
        "targets/targets.xlsx",
    ):
        assert different[name] != first[name], name


# --- scale -----------------------------------------------------------------------------------------
def test_counts_grow_linearly_with_scale(clean, double):
    small, large = manifest(clean)["row_counts"], manifest(double)["row_counts"]
    # accounts are round(1000 x scale): exactly double (some have two rows: their owner history)
    assert entity_frame(clean, "accounts").account_id.nunique() == 100
    assert entity_frame(double, "accounts").account_id.nunique() == 200
    # orders are Poisson around 900 x scale a month: across 12 seeds the 0.2/0.1 ratio of order
    # lines had mean 1.99 and sd 0.06, so [1.8, 2.2] is ~3 sd wide
    assert 1.8 <= large["order_lines"] / small["order_lines"] <= 2.2
    assert 1.8 <= large["orders"] / small["orders"] <= 2.2
    # ~60,000 order lines at scale 1 over 24 months
    assert 0.8 * 6000 <= small["order_lines"] <= 1.2 * 6000
    assert large["leads"] == 2 * small["leads"] - 1 or large["leads"] == 2 * small["leads"]
    assert large["reps"] >= 2 * small["reps"] - 1


# --- the canonical format ---------------------------------------------------------------------------
def test_every_entity_file_has_the_canonical_columns_and_format(clean):
    for name, ent in ENTITIES.items():
        suffix = ".xlsx" if name in ("budgets", "targets") else ".csv"
        path = clean / name / f"{name}{suffix}"
        assert path.is_file(), path
        header, rows = read_rows(path)
        assert header == ent.column_names, name
        assert rows, f"{name} is empty"
    raw = (clean / "orders" / "orders.csv").read_bytes()
    raw.decode("utf-8")  # UTF-8
    assert b"\r" not in raw and raw.endswith(b"\n")
    # RFC 4180: a comment holding a comma or quotes is quoted, quotes doubled
    text = (clean / "survey_responses" / "survey_responses.csv").read_text(encoding="utf-8")
    assert '"交货及时, 质量可靠"' in text or '"产品""性价比""很高"' in text
    sheet = openpyxl.load_workbook(clean / "budgets" / "budgets.xlsx").worksheets
    assert len(sheet) == 1


def test_manifest_row_counts_equal_the_files(clean):
    m = manifest(clean)
    assert m["parameters"] == {"scale": SCALE, "seed": 42, "start": START, "months": MONTHS, "dirty": False}
    assert m["defects"] == []
    assert {f["entity"] for f in m["files"]} == set(ENTITIES)
    for record in m["files"]:
        _, rows = read_rows(clean / record["file"])
        assert record["rows"] == len(rows), record["file"]
        assert record["expected"] == {
            "status": "loaded",
            "rows_read": len(rows),
            "rows_loaded": len(rows),
            "rows_quarantined": 0,
        }
        if Path(record["file"]).stem == record["entity"]:  # the main file (reps have dated snapshots too)
            assert m["row_counts"][record["entity"]] == len(rows)
    assert not any(p.name == MANIFEST_NAME for p in clean.glob("*/*"))  # outside the entity folders


def test_clean_data_satisfies_every_rule_of_the_contract(clean):
    for entity in ENTITIES:
        frame = entity_frame(clean, entity)
        problems = [
            (i + 1, sorted(p)) for i, row in enumerate(frame.to_dict("records")) if (p := row_problems(entity, row))
        ]
        assert problems == [], f"{entity}: {problems[:5]}"
        # one row per key, but for an account's owner history and a deal's earlier versions
        key = list(ENTITIES[entity].key) + {"accounts": ["valid_from"], "opportunities": ["updated_at"]}.get(entity, [])
        assert not frame.duplicated(key).any(), f"{entity}: duplicate keys"
    currencies = set()
    for entity in ("products", "orders", "opportunities", "budgets", "expenses"):
        currencies |= set(entity_frame(clean, entity)["currency"])
    assert currencies == {"CNY"}


def test_references_point_to_existing_rows(clean):
    f = {e: entity_frame(clean, e) for e in ENTITIES}
    accounts, reps, products = set(f["accounts"].account_id), set(f["reps"].rep_id), set(f["products"].product_id)
    orders = f["orders"].set_index("order_id")
    teams = set(f["teams"].team_id)
    assert set(f["orders"].account_id) <= accounts
    assert set(f["orders"].rep_id) - {""} <= reps
    assert set(f["order_lines"].order_id) <= set(orders.index)
    assert set(f["order_lines"].product_id) <= products
    assert set(f["opportunities"].owner_rep_id) <= reps
    assert set(f["opportunities"].account_id) - {""} <= accounts
    assert set(f["orders"].opportunity_id) - {""} <= set(f["opportunities"].opportunity_id)
    assert set(f["opportunity_stage_history"].opportunity_id) <= set(f["opportunities"].opportunity_id)
    assert set(f["activities"].rep_id) <= reps and set(f["activities"].account_id) - {""} <= accounts
    assert set(f["contacts"].account_id) <= accounts and set(f["cases"].account_id) <= accounts
    assert set(f["reps"].team_id) <= teams and set(f["expenses"].team_id) <= teams
    assert set(f["budgets"].team_id) <= teams and set(f["targets"].team_id) - {""} <= teams
    assert set(f["targets"].rep_id) - {""} <= reps
    survey = f["survey_responses"]
    assert set(survey.order_id) - {""} <= set(orders.index) and set(survey.case_id) - {""} <= set(f["cases"].case_id)
    assert set(survey.contact_id) - {""} <= set(f["contacts"].contact_id)
    leads = f["leads"]
    assert set(leads.converted_account_id) - {""} <= accounts
    assert set(leads.converted_opportunity_id) - {""} <= set(f["opportunities"].opportunity_id)

    # returns: after a completed order, refund at most the line's net amount
    lines = f["order_lines"].set_index(["order_id", "line_number"])
    for r in f["returns"].itertuples():
        order = orders.loc[r.order_id]
        assert order.status == "completed"
        assert date.fromisoformat(r.return_date) > date.fromisoformat(order.order_date)
        line = lines.loc[(r.order_id, r.line_number)]
        net = Decimal(line.quantity) * Decimal(line.unit_price) - Decimal(line.discount_amount or "0")
        assert Decimal(r.refund_amount) <= net and Decimal(r.quantity) <= Decimal(line.quantity)


def test_nothing_happens_after_the_last_day(clean):
    """The as_of date of the data is the period's last day (marts.md: latest event date)."""
    f = {e: entity_frame(clean, e) for e in ENTITIES}
    opps = f["opportunities"]
    closed = opps[opps.stage.isin(["closed_won", "closed_lost"])]
    event_days = pd.concat(
        [
            f["orders"].order_date,
            opps.created_at.str[:10],
            opps.updated_at.str[:10],
            closed.close_date,
            f["opportunity_stage_history"].entered_at.str[:10],
            f["activities"].occurred_at.str[:10],
            f["survey_responses"].submitted_at.str[:10],
        ]
    )
    event_days = event_days[event_days != ""]
    assert event_days.max() == LAST_DAY.isoformat()
    assert event_days.min()[:7] == START
    for entity, column in (
        ("returns", "return_date"),
        ("cases", "resolved_at"),
        ("activities", "responded_at"),
        ("expenses", "expense_date"),
        ("leads", "converted_at"),
    ):
        values = f[entity][column]
        assert values[values != ""].max()[:10] <= LAST_DAY.isoformat(), entity


# --- believable content: every mart has something to show ----------------------------------------
def lifecycle_stages(f: dict[str, pd.DataFrame], as_of: date) -> pd.Series:
    """marts.md lifecycle rules, computed here with pandas."""
    lines = f["order_lines"]
    net = (
        (
            lines.quantity.astype(float) * lines.unit_price.astype(float)
            - pd.to_numeric(lines.discount_amount.replace("", "0"))
        )
        .groupby(lines.order_id)
        .sum()
    )
    refunds = f["returns"].assign(r=f["returns"].refund_amount.astype(float))
    refunds = refunds[pd.to_datetime(refunds.return_date) <= pd.Timestamp(as_of)].groupby("order_id").r.sum()
    orders = f["orders"][f["orders"].status == "completed"].copy()
    orders["day"] = pd.to_datetime(orders.order_date)
    orders["net"] = orders.order_id.map(net).fillna(0) - orders.order_id.map(refunds).fillna(0)
    now = pd.Timestamp(as_of)
    by_account = orders.groupby("account_id")
    first, last = by_account.day.min(), by_account.day.max()
    recent = orders[orders.day > now - pd.Timedelta(days=365)]
    revenue_365, orders_365 = recent.groupby("account_id").net.sum(), recent.groupby("account_id").size()
    ranked = revenue_365[revenue_365 > 0].reset_index().sort_values(["net", "account_id"], ascending=[False, True])
    vip = set(ranked.account_id[: int(np.ceil(0.05 * len(ranked)))])
    stages = {}
    for account in f["accounts"].account_id:
        if account not in first.index:
            stages[account] = "prospect"
        elif (now - last[account]).days > 180:
            stages[account] = "inactive"
        elif account in vip:
            stages[account] = "vip"
        elif (now - first[account]).days < 90:
            stages[account] = "new"
        elif orders_365.get(account, 0) >= 3:
            stages[account] = "loyal"
        else:
            stages[account] = "active"
    return pd.Series(stages)


def test_content_feeds_every_mart(double):
    f = {e: current_state(entity_frame(double, e), e) for e in ENTITIES}
    # lifecycle: all six stages at the as_of date
    stages = lifecycle_stages(f, LAST_DAY).value_counts()
    assert set(stages.index) == {"prospect", "inactive", "vip", "new", "loyal", "active"}, stages.to_dict()

    # reps hired mid-period and reps who left (end_date + inactive)
    reps = f["reps"]
    assert (reps.hire_date >= "2024-01-01").any()
    left = reps[reps.end_date != ""]
    assert len(left) and (left.status == "inactive").all() and (reps[reps.end_date == ""].status == "active").all()

    # funnel: won, lost (with reason), open with a future close date, skipped stages, incomplete rows
    opps = f["opportunities"]
    assert {"closed_won", "closed_lost"} <= set(opps.stage)
    assert (opps[opps.stage == "closed_lost"].lost_reason != "").all()
    open_deals = opps[~opps.stage.isin(["closed_won", "closed_lost"])]
    assert (open_deals.close_date > LAST_DAY.isoformat()).any()
    for column in ("created_at", "amount", "account_id"):
        share = (opps[column] == "").mean()
        assert 0 < share < 0.06, column
    ladder = ["prospecting", "qualification", "needs_analysis", "proposal", "negotiation"]
    history = f["opportunity_stage_history"]
    won_history = history[history.opportunity_id.isin(opps[opps.stage == "closed_won"].opportunity_id)]
    ladder_count = won_history[won_history.stage.isin(ladder)].groupby("opportunity_id").size()
    assert (ladder_count < 5).any() and (ladder_count == 5).any()  # some skipped a stage
    lost_at = history[history.stage.isin(ladder)].groupby("opportunity_id").stage.last()
    lost = opps[opps.stage == "closed_lost"].opportunity_id
    assert len(set(lost_at[lost_at.index.isin(lost)])) >= 4  # drop-off at (nearly) every stage

    # leads from several sources, every status; converted ones have an account and an opportunity
    leads = f["leads"]
    assert set(leads.status) == {"new", "working", "qualified", "unqualified", "converted"}
    assert leads.lead_source.nunique() >= 5
    converted = leads[leads.status == "converted"]
    assert (converted.converted_account_id != "").all() and (converted.converted_opportunity_id != "").all()

    # orders: statuses, deals, empty rep_id, returns in a later month, discounts
    orders = f["orders"]
    assert set(orders.status) == {"completed", "cancelled", "pending"}
    assert (orders.opportunity_id != "").any() and 0.05 < (orders.rep_id == "").mean() < 0.3
    returns = f["returns"].merge(orders, on="order_id")
    assert (returns.return_date.str[:7] > returns.order_date.str[:7]).any()
    assert (f["order_lines"].discount_amount != "").any()

    # activities: every type; inbound e-mails answered hours later or unanswered
    acts = f["activities"]
    assert set(acts.activity_type) == {"call", "visit", "meeting", "email", "demo"}
    inbound = acts[(acts.activity_type == "email") & (acts.direction == "inbound")]
    answered = inbound[inbound.responded_at != ""]
    assert 0 < len(answered) < len(inbound)
    delay = pd.to_datetime(answered.responded_at) - pd.to_datetime(answered.occurred_at)
    assert (delay > pd.Timedelta(0)).all() and delay.median() < pd.Timedelta(hours=24)

    # cases: every category; some first responses later than 24 h, some missing
    cases = f["cases"]
    assert set(cases.category) == {"complaint", "inquiry", "return", "technical"}
    responded = cases[cases.first_response_at != ""]
    delay = pd.to_datetime(responded.first_response_at) - pd.to_datetime(responded.opened_at)
    hours = delay.dt.total_seconds() / 3600
    assert (hours > 24).any() and (hours <= 24).any() and (cases.first_response_at == "").any()

    # surveys: NPS and CSAT, linked to orders, cases or only accounts
    survey = f["survey_responses"]
    assert set(survey.survey_type) == {"nps", "csat"}
    assert (survey.order_id != "").any() and (survey.case_id != "").any()
    assert ((survey.order_id == "") & (survey.case_id == "")).any()

    # budgets: all 7 categories; some (month, team, category) over budget by > 5%, some under
    budgets = f["budgets"]
    assert set(budgets.category) == set(ENTITIES["expenses"].column("category").enum)
    spent = f["expenses"].assign(month=f["expenses"].expense_date.str[:7], a=f["expenses"].amount.astype(float))
    actual = spent.groupby(["month", "team_id", "category"]).a.sum()
    plan = budgets.assign(b=budgets.budget_amount.astype(float)).set_index(["month", "team_id", "category"]).b
    both = pd.concat([plan, actual], axis=1).fillna(0)
    assert (both.a > both.b * 1.05).any() and (both.a < both.b * 0.95).any()

    # targets: each row names a rep or a team; some team beats its revenue target, some misses
    targets = f["targets"]
    assert set(targets.metric) == {"net_revenue", "new_customers", "visits", "csat_rate", "nps"}
    # satisfaction targets: every rep month with a revenue target has one CSAT and one NPS target,
    # its team's standard; CSAT a fraction, NPS on its -100..100 scale
    rep_rows = targets[targets.rep_id != ""]
    by_metric = {
        m: rep_rows[rep_rows.metric == m].set_index(["rep_id", "month"]).target_value.astype(float)
        for m in ("net_revenue", "csat_rate", "nps")
    }
    assert set(by_metric["csat_rate"].index) == set(by_metric["nps"].index) == set(by_metric["net_revenue"].index)
    assert by_metric["csat_rate"].between(0.8, 0.92).all() and by_metric["nps"].between(20, 45).all()
    team_rows = targets[targets.team_id != ""]
    for metric in ("csat_rate", "nps"):
        team_values = team_rows[team_rows.metric == metric].target_value.astype(float).groupby(team_rows.team_id)
        assert team_values.nunique().eq(1).all()  # one standard per team, every month
        rep_values = by_metric[metric].reset_index()
        rep_team = rep_values.rep_id.map(reps.set_index("rep_id").team_id)
        assert (rep_values.target_value == rep_team.map(team_values.first())).all()
    owner = f["accounts"].set_index("account_id").owner_rep_id
    team_of = reps.set_index("rep_id").team_id
    done = orders[orders.status == "completed"].copy()
    done["team"] = np.where(done.rep_id != "", done.rep_id, done.account_id.map(owner))
    done["team"] = done.team.map(team_of)
    lines = f["order_lines"]
    line_net = (
        (
            lines.quantity.astype(float) * lines.unit_price.astype(float)
            - pd.to_numeric(lines.discount_amount.replace("", "0"))
        )
        .groupby(lines.order_id)
        .sum()
    )
    revenue = done.order_id.map(line_net).groupby(done.team).sum()
    # targets run two months past the data (the forecast's horizon), for the reps still employed
    assert targets.month.max() == "2026-02"
    assert set(targets[targets.month > "2025-12"].rep_id) - {""} == set(reps[reps.status == "active"].rep_id)
    team_targets = targets[(targets.team_id != "") & (targets.metric == "net_revenue") & (targets.month <= "2025-12")]
    goal = team_targets.target_value.astype(float).groupby(team_targets.team_id).sum()
    attainment = revenue / goal
    assert (attainment > 1).any() and (attainment < 1).any(), attainment.to_dict()

    # mild seasonality (Spring Festival dip) and growth
    per_month = orders.groupby(orders.order_date.str[:7]).size()
    assert per_month["2024-02"] < per_month["2024-01"] and per_month["2025-02"] < per_month["2025-01"]
    first_year, second_year = per_month[per_month.index < "2025"].sum(), per_month[per_month.index >= "2025"].sum()
    assert 1.0 < second_year / first_year < 1.4


# --- history (exports.md "Snapshots are effective-dated"; marts.md "History: what was known then") --
def test_reps_arrive_as_month_end_snapshots_and_some_move_team(double):
    month_ends = [d.date().isoformat() for d in pd.date_range(START, periods=MONTHS, freq="ME")]
    # a snapshot for the end of every month in which the reps changed; reps.csv is the state now
    snapshots = sorted((double / "reps").glob("reps_*.csv"))
    assert len(snapshots) >= 2 and {p.stem.removeprefix("reps_") for p in snapshots} <= set(month_ends[:-1])
    texts = [p.read_bytes().split(b"\n", 1)[1] for p in [*snapshots, double / "reps" / "reps.csv"]]
    assert all(a != b for a, b in zip(texts, texts[1:]))  # never the same content twice in a row
    now = entity_frame(double, "reps").set_index("rep_id")
    team_then = {}  # rep -> [(month end, team)]
    for path in snapshots:
        header, rows = read_rows(path)
        frame = pd.DataFrame(rows, columns=header, dtype=str)
        day = path.stem.removeprefix("reps_")
        assert (frame.hire_date <= day).all() and set(frame.rep_id) <= set(now.index)
        for rep, team in zip(frame.rep_id, frame.team_id):
            team_then.setdefault(rep, []).append((day, team))
    moved = {rep for rep, teams in team_then.items() if {t for _, t in teams} != {now.team_id[rep]}}
    moved |= set(now.index[now.valid_from != ""]) - moved  # a move in the last month shows only now
    assert len(moved) >= 2 and set(now.index[now.valid_from != ""]) == moved
    for rep in moved:  # on the old team before the month of valid_from, on today's team from it
        move_month = now.valid_from[rep][:7]
        assert now.valid_from[rep].endswith("-01")
        assert all((team == now.team_id[rep]) == (day[:7] >= move_month) for day, team in team_then[rep])


def test_some_accounts_change_owner_and_orders_without_a_rep_fall_on_both_sides(double):
    accounts = entity_frame(double, "accounts")
    history = accounts[accounts.account_id.duplicated(keep=False)]
    assert 0 < history.account_id.nunique() < 0.25 * accounts.account_id.nunique()
    assert (accounts[~accounts.account_id.duplicated(keep=False)].valid_from == "").all()
    for _, rows in history.groupby("account_id"):
        first, then = rows.iloc[0], rows.iloc[1]
        assert len(rows) == 2 and first.owner_rep_id != then.owner_rep_id
        assert first.valid_from == first.created_at[:10] < then.valid_from
    changed_on = history.groupby("account_id").valid_from.max()
    orders = entity_frame(double, "orders")
    no_rep = orders[(orders.rep_id == "") & orders.account_id.isin(changed_on.index)]
    before = no_rep.order_date < no_rep.account_id.map(changed_on)
    assert before.any() and (~before).any()


def test_a_quarter_of_the_deals_are_revised_and_stage_history_carries_their_values_then(double):
    opps = entity_frame(double, "opportunities")
    rows_per_deal = opps.groupby("opportunity_id", sort=False).size()
    assert 0.15 < (rows_per_deal > 1).mean() < 0.35
    # a deal's rows: earlier versions (open) first, each updated later than the one before
    previous = opps.groupby("opportunity_id").shift(1)
    later = previous.updated_at.notna()
    assert (opps.updated_at[later] > previous.updated_at[later]).all()
    earlier = opps.opportunity_id.duplicated(keep="last")
    assert not opps[earlier].stage.isin(["closed_won", "closed_lost"]).any()
    amount = pd.to_numeric(opps.amount.replace("", None))
    assert (amount[later] != pd.to_numeric(previous.amount[later].replace("", None))).any()
    assert (opps.close_date[later] > previous.close_date[later]).any()  # pushed out
    assert (opps.close_date[later] < previous.close_date[later]).any()  # pulled in
    # each stage-history row: the amount and close date of the version in effect when the stage was
    # entered, i.e. of the deal's earliest version updated at or after that time
    history = entity_frame(double, "opportunity_stage_history")
    both = history.merge(opps, on="opportunity_id", suffixes=("", "_version"))
    both = both[both.updated_at >= both.entered_at].sort_values("updated_at", kind="stable")
    then = both.drop_duplicates(["opportunity_id", "stage", "entered_at"], keep="first")
    assert len(then) == len(history)
    assert (then.amount == then.amount_version).all() and (then.close_date == then.close_date_version).all()
    final = current_state(opps, "opportunities").set_index("opportunity_id")
    assert (then.amount != then.opportunity_id.map(final.amount)).any()


# --- dirty mode -----------------------------------------------------------------------------------
def test_dirty_manifest_lists_each_kind_of_bad_input(dirty):
    defects = manifest(dirty)["defects"]
    kinds = pd.Series([d["kind"] for d in defects]).value_counts().to_dict()
    for kind in (
        "empty_required",
        "unparseable_date",
        "unparseable_number",
        "unknown_enum",
        "nonpositive_quantity",
        "discount_exceeds_gross",
        "score_out_of_range",
        "wrong_currency",
    ):
        assert kinds[kind] == 3, kind
    assert kinds["unknown_account"] == 3 and kinds["order_status_update"] == 10
    for kind in ("missing_required_column", "not_csv", "corrupt_xlsx", "empty_file", "duplicate_file"):
        assert kinds[kind] == 1, kind


def test_each_injected_row_is_broken_as_the_manifest_says(dirty):
    files: dict[str, tuple[list[str], list[list[str]]]] = {}
    for d in manifest(dirty)["defects"]:
        if d["outcome"] not in ("quarantined", "loaded") or d["kind"] == "order_status_update":
            continue
        if d["file"] not in files:
            files[d["file"]] = read_rows(dirty / d["file"])
        header, rows = files[d["file"]]
        row = dict(zip(header, rows[d["row_number"] - 1]))
        assert row[d["column"]] == d["value"]
        assert {k: row[k] for k in d["key"]} == d["key"]
        problems = row_problems(d["entity"], row)
        if d["outcome"] == "quarantined":
            assert problems == {d["column"]}, (d, problems)  # broken in exactly that column
        else:
            assert problems == set()
        value = d["value"]
        kind = d["kind"]
        if kind == "empty_required":
            assert value == "" and ENTITIES[d["entity"]].column(d["column"]).required
        elif kind == "unparseable_date":
            assert not _strict_time(value, "%Y-%m-%d") and not _strict_time(value, "%Y-%m-%d %H:%M:%S")
        elif kind == "unparseable_number":
            assert _decimal(value) is None or not _NUMBER.match(value)
        elif kind == "unknown_enum":
            assert value not in ENTITIES[d["entity"]].column(d["column"]).enum
        elif kind == "nonpositive_quantity":
            assert Decimal(value) <= 0
        elif kind == "discount_exceeds_gross":
            assert Decimal(value) > Decimal(row["quantity"]) * Decimal(row["unit_price"])
        elif kind == "score_out_of_range":
            low, high = {"nps": (0, 10), "csat": (1, 5)}[row["survey_type"]]
            assert not low <= int(value) <= high
        elif kind == "wrong_currency":
            assert not re.fullmatch("[A-Z]{3}", value)
        elif kind == "unknown_account":
            accounts = set(entity_frame(dirty, "accounts").account_id)
            assert value not in accounts and row["status"] == "pending"
        else:
            raise AssertionError(f"unexpected kind {kind}")


def test_dirty_bad_files_are_what_the_manifest_says(dirty):
    defects = {d["kind"]: d for d in manifest(dirty)["defects"] if d["row_number"] is None}
    missing = defects["missing_required_column"]
    header, rows = read_rows(dirty / missing["file"])
    assert missing["column"] not in header and ENTITIES["orders"].column(missing["column"]).required and rows
    with pytest.raises(UnicodeDecodeError):
        (dirty / defects["not_csv"]["file"]).read_bytes().decode("utf-8")
    with pytest.raises(zipfile.BadZipFile):
        openpyxl.load_workbook(dirty / defects["corrupt_xlsx"]["file"])
    assert (dirty / defects["empty_file"]["file"]).stat().st_size == 0
    duplicate = defects["duplicate_file"]
    assert (dirty / duplicate["file"]).read_bytes() == (dirty / duplicate["duplicate_of"]).read_bytes()
    assert duplicate["file"] > duplicate["duplicate_of"]  # sorts after its twin: the twin loads first


def test_resent_orders_carry_a_newer_status(dirty):
    original = entity_frame(dirty, "orders").set_index("order_id")
    header, rows = read_rows(dirty / "orders" / "orders_update.csv")
    assert header == ENTITIES["orders"].column_names
    updates = {d["key"]["order_id"]: d for d in manifest(dirty)["defects"] if d["kind"] == "order_status_update"}
    assert len(rows) == len(updates) == 10
    for row in rows:
        resent = dict(zip(header, row))
        before = original.loc[resent["order_id"]]
        d = updates[resent["order_id"]]
        assert before.status == d["previous_value"] == "pending" and resent["status"] == d["value"] != "pending"
        assert all(resent[c] == before[c] for c in header if c not in ("order_id", "status"))


def test_manifest_gives_exact_totals_per_file(dirty):
    m = manifest(dirty)
    quarantined = pd.Series([d["file"] for d in m["defects"] if d["outcome"] == "quarantined"]).value_counts()
    for record in m["files"]:
        expected = record["expected"]
        if expected["status"] != "loaded":
            assert expected == {"status": expected["status"], "rows_read": 0, "rows_loaded": 0, "rows_quarantined": 0}
            continue
        _, rows = read_rows(dirty / record["file"])
        assert expected["rows_read"] == record["rows"] == len(rows)
        assert expected["rows_quarantined"] == quarantined.get(record["file"], 0)
        assert expected["rows_loaded"] == len(rows) - expected["rows_quarantined"]
    statuses = {r["file"]: r["expected"]["status"] for r in m["files"]}
    assert statuses["expenses/expenses_resent.csv"] == "duplicate_file"
    assert statuses["orders/orders_update.csv"] == "loaded"
    assert sum(1 for s in statuses.values() if s == "rejected") == 4
    on_disk = {p.relative_to(dirty).as_posix() for p in dirty.rglob("*") if p.is_file() and p.name != MANIFEST_NAME}
    assert on_disk == set(statuses)


def test_clean_rows_of_dirty_mode_equal_the_clean_data(clean, dirty):
    injected: dict[str, set[int]] = {}
    for d in manifest(dirty)["defects"]:
        if d["row_number"] is not None and d["kind"] != "order_status_update":
            injected.setdefault(d["file"], set()).add(d["row_number"])
    for record in manifest(clean)["files"]:
        path = record["file"]
        if path not in injected:
            assert (dirty / path).read_bytes() == (clean / path).read_bytes(), path
            continue
        _, dirty_rows = read_rows(dirty / path)
        kept = [row for number, row in enumerate(dirty_rows, start=1) if number not in injected[path]]
        assert kept == read_rows(clean / path)[1], path


# --- next day, progress, workbook fallback ------------------------------------------------------
def test_next_day_continues_the_ids_with_existing_references(tmp_path):
    out = tmp_path / "small"
    args = dict(scale=0.2, seed=7, start="2024-11", months=3)  # the day after is a Saturday
    generate(out, **args)
    result = generate_next_day(out, **args)
    assert result["date"] == "2025-02-01"
    first = {p: (out / p).read_bytes() for p in result["files"].values()}
    assert generate_next_day(out, **args) == result
    assert {p: (out / p).read_bytes() for p in result["files"].values()} == first

    day = {e: pd.read_csv(out / p, dtype=str, keep_default_na=False) for e, p in result["files"].items()}
    for entity, frame in day.items():
        assert list(frame.columns) == ENTITIES[entity].column_names
        assert len(frame) == result["rows"][entity]
        assert all(not row_problems(entity, row) for row in frame.to_dict("records"))
    assert len(day["orders"]) > 0 and len(day["activities"]) > 0
    known = {
        e: entity_frame(out, e) for e in ("orders", "activities", "accounts", "reps", "products", "survey_responses")
    }
    assert not set(day["orders"].order_id) & set(known["orders"].order_id)
    assert not set(day["activities"].activity_id) & set(known["activities"].activity_id)
    assert not set(day["survey_responses"].response_id) & set(known["survey_responses"].response_id)
    assert set(day["orders"].order_date) == {"2025-02-01"}
    assert set(day["activities"].occurred_at.str[:10]) == {"2025-02-01"}
    assert set(day["orders"].account_id) <= set(known["accounts"].account_id)
    assert set(day["order_lines"].order_id) == set(day["orders"].order_id)
    assert set(day["order_lines"].product_id) <= set(known["products"].product_id)
    active = set(known["reps"][known["reps"].status == "active"].rep_id)
    assert set(day["activities"].rep_id) <= active and set(day["orders"].rep_id) - {""} <= active
    assert set(day["survey_responses"].order_id) <= set(day["orders"].order_id)
    with pytest.raises(ValueError):
        generate_next_day(out, **{**args, "seed": 8})


def test_progress_is_reported_and_big_workbooks_fall_back_to_csv(tmp_path, monkeypatch):
    from demo import output

    monkeypatch.setattr(output, "XLSX_MAX_DATA_ROWS", 50)  # budgets 42 rows fit, targets do not
    calls = []
    generate(tmp_path, scale=0.05, seed=1, months=3, progress=lambda e, done, total: calls.append((e, done, total)))
    # the monthly loops report under "orders" (with their lines, returns, cases, surveys) and "activities"
    assert {e for e, _, _ in calls} == set(ENTITIES) - {"order_lines", "returns", "cases", "survey_responses"}
    assert ("orders", 3, 3) in calls and ("activities", 3, 3) in calls
    assert all(0 < done <= total for _, done, total in calls)
    assert (tmp_path / "budgets" / "budgets.xlsx").is_file() and not (tmp_path / "targets" / "targets.xlsx").exists()
    header, rows = read_rows(tmp_path / "targets" / "targets.csv")
    assert header == ENTITIES["targets"].column_names and len(rows) > 50
    record = next(f for f in manifest(tmp_path)["files"] if f["entity"] == "targets")
    assert record["file"] == "targets/targets.csv" and record["rows"] == len(rows)


def test_a_new_generation_removes_the_files_of_the_previous_one(tmp_path):
    args = dict(scale=0.05, seed=3, start=START, months=3)
    generate(tmp_path, dirty=True, **args)
    next_day = generate_next_day(tmp_path, **args)
    user_file = tmp_path / "orders" / "my_own_export.csv"
    user_file.write_text("order_id\n", encoding="utf-8")
    generate(tmp_path, **args)
    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    listed = {f["file"] for f in manifest(tmp_path)["files"]}
    assert left == listed | {MANIFEST_NAME, "orders/my_own_export.csv"}  # only what it wrote before
    assert not set(next_day["files"].values()) & left and "orders/orders_update.csv" not in left


@pytest.mark.parametrize("bad", [dict(start="2024-13"), dict(start="2024-1"), dict(months=0), dict(scale=0)])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, bad):
    with pytest.raises(ValueError):
        generate(tmp_path / "out", **{"scale": 0.05, "months": 3, **bad})
    assert not (tmp_path / "out").exists()
