"""Planning a suite before GX runs: the facts read from the warehouse (its relations, the as_of
date, the landed entities), the suite's parameters, the previous row counts, and for each check
either an outcome decided without GX (a missing table, nothing landed, no as_of date) or the
expectations GX must validate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestration.quality import results_store
from orchestration.quality.suites import ROW_COUNT_CHANGE, CheckDef, ExpectationDef, suite_parameters

# The business events that define the default as_of_date (marts.md), as (entity, expression).
# The same rule as dbt_project/models/intermediate/int_calendar.sql, used before that model exists.
_EVENT_DATES = (
    ("orders", "cast(order_date as date)"),
    ("opportunities", "cast(created_at as date)"),
    ("opportunities", "cast(updated_at as date)"),
    ("opportunities", "case when stage in ('closed_won', 'closed_lost') then close_date end"),
    ("opportunity_stage_history", "cast(entered_at as date)"),
    ("activities", "cast(occurred_at as date)"),
    ("survey_responses", "cast(submitted_at as date)"),
)


# --- Facts read before GX runs -----------------------------------------------------------------


@dataclass
class Facts:
    relations: set[str]  # schema.table of every table and view
    as_of_date: date | None
    as_of_source: str
    landed_entities: set[str]


def read_facts(warehouse: Path, layer: str, as_of_date: date | None, limits: dict) -> Facts:
    with duckdb.connect(str(warehouse), read_only=True, config=limits) as con:
        relations = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        }
        landed: set[str] = set()
        if "quality.ingestion_ledger" in relations:
            landed = {
                e
                for (e,) in con.execute(
                    "select distinct entity from quality.ingestion_ledger where status = 'loaded' and rows_loaded > 0"
                ).fetchall()
            }
        source = "given"
        if as_of_date is None and "intermediate.int_calendar" in relations:
            row = _try_fetch(con, "select max(as_of_date) from intermediate.int_calendar")
            as_of_date, source = (row, "intermediate.int_calendar") if row else (None, "")
        if as_of_date is None:
            schema = "raw" if layer == "raw" else "staging"
            as_of_date, source = _max_event_date(con, relations, schema), f"latest event in {schema}"
    return Facts(relations, as_of_date, source, landed)


def _try_fetch(con, sql: str):
    try:
        return con.execute(sql).fetchone()[0]
    except duckdb.Error:  # e.g. a view whose inputs are gone
        return None


def _max_event_date(con, relations: set[str], schema: str) -> date | None:
    prefix = "stg_" if schema == "staging" else ""
    parts = [
        f"select {expr} as d from {schema}.{prefix}{entity}"
        for entity, expr in _EVENT_DATES
        if f"{schema}.{prefix}{entity}" in relations
    ]
    return _try_fetch(con, "select max(d) from (" + " union all ".join(parts) + ") as e") if parts else None


def parameters(layer: str, facts: Facts) -> dict[str, Any]:
    as_of = facts.as_of_date
    # "now" for event times is the end of the as_of day, as in the marts (marts.md)
    now_ts = None if as_of is None else _end_of_day(as_of)
    params: dict[str, Any] = {"as_of_date": as_of, "now_ts": now_ts}
    for name, rule in suite_parameters(layer).items():
        days = rule["days_before_as_of"]
        params[name] = None if as_of is None else _days_before(as_of, days)
    return params


# Python's dates stop at 9999-12-31 and DuckDB's do not: a placeholder date (9999-12-31) that
# became the as_of date must not crash the suite with an OverflowError.
def _end_of_day(day: date) -> datetime:
    start = datetime.combine(day, datetime.min.time())
    return datetime.max if day == date.max else start + timedelta(days=1)


def _days_before(day: date, days: int) -> date:
    return date.min if day.toordinal() <= days else day - timedelta(days=days)


def _parameter_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return {value["$PARAMETER"]}
        return set().union(*map(_parameter_names, value.values())) if value else set()
    return set()


# --- Previous published row counts ------------------------------------------------------------


def previous_row_counts(
    checks: list[CheckDef], previous_warehouse: Path | None, quality_dir: Path, limits: dict
) -> dict[int, tuple[int, str]]:
    """For each row_count_change check (by index): (row count, where it came from)."""
    wanted = {i: c for i, c in enumerate(checks) if any(e.type == ROW_COUNT_CHANGE for e in c.expectations)}
    found: dict[int, tuple[int, str]] = {}
    if wanted and previous_warehouse is not None and Path(previous_warehouse).exists():
        with duckdb.connect(str(previous_warehouse), read_only=True, config=limits) as con:
            present = {
                f"{s}.{t}"
                for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
            }
            for i, check in wanted.items():
                if check.table in present:
                    count = con.execute(f"select count(*) from {check.table}").fetchone()[0]
                    found[i] = (count, f"previous published build {Path(previous_warehouse).name}")
    missing = {i: (c.layer, c.asset, c.name) for i, c in wanted.items() if i not in found}
    stored = results_store.last_passed_observed(quality_dir, list(missing.values()))
    for i, key in missing.items():
        observed = stored.get(key)
        if observed is not None and observed.isdigit():
            found[i] = (int(observed), "last passed result in the results store")
    return found


def _row_count_expectation(exp: ExpectationDef, previous: int) -> tuple[ExpectationDef, str]:
    if "max_drop" in exp.kwargs:
        floor = math.ceil(previous * (1 - exp.kwargs["max_drop"]))
        return (
            ExpectationDef("expect_table_row_count_to_be_between", {"min_value": floor}),
            f"allowed drop {exp.kwargs['max_drop']:.0%}: at least {floor} rows",
        )
    ceiling = math.floor(previous * (1 + exp.kwargs["max_growth"]))
    return (
        ExpectationDef("expect_table_row_count_to_be_between", {"max_value": ceiling}),
        f"allowed growth {exp.kwargs['max_growth']:.0%}: at most {ceiling} rows",
    )


# --- Planning: what GX must validate, what is decided without it -------------------------------


@dataclass
class Outcome:
    passed: bool
    observed_value: str
    details: str


@dataclass
class Planned:
    check: CheckDef
    expectations: list[ExpectationDef]
    note: str = ""  # context for details: the as_of_date used, the previous row count


def plan(
    checks: list[CheckDef], facts: Facts, params: dict, previous: dict[int, tuple[int, str]]
) -> tuple[dict[int, Outcome], dict[int, Planned]]:
    decided: dict[int, Outcome] = {}
    planned: dict[int, Planned] = {}
    for i, check in enumerate(checks):
        missing = [t for t in (check.table, check.batch_table) if t and t not in facts.relations]
        if missing:
            decided[i] = Outcome(False, "table missing", f"table {missing[0]} does not exist")
            continue
        if check.only_if_landed and check.only_if_landed not in facts.landed_entities:
            decided[i] = Outcome(
                True,
                "not landed",
                f"skipped: the ingestion ledger has no loaded file with rows for {check.only_if_landed}",
            )
            continue
        needed = set().union(*(_parameter_names(e.kwargs) for e in check.expectations))
        if any(params.get(name) is None for name in needed):
            decided[i] = Outcome(True, "skipped", "skipped: no as_of_date (no business events yet)")
            continue
        expectations = []
        note = f"as_of_date {facts.as_of_date} ({facts.as_of_source})" if needed else ""
        for exp in check.expectations:
            if exp.type == ROW_COUNT_CHANGE:
                # observed_value is always the current row count: the next run's baseline
                if i in previous:
                    count, source = previous[i]
                    exp, band = _row_count_expectation(exp, count)
                    note = f"{source}: {count} rows; {band}"
                else:
                    exp = ExpectationDef("expect_table_row_count_to_be_between", {"min_value": 0})
                    note = "no previous published build to compare with"
            expectations.append(exp)
        planned[i] = Planned(check, expectations, note)
    return decided, planned
