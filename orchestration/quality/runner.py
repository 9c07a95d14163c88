"""Run a layer's expectation suite with Great Expectations, in the database, and store the results.

GX validates through a SQL data source on the DuckDB build warehouse (duckdb-engine, read-only):
every metric is a query in DuckDB, nothing is pulled into pandas. The GX context is ephemeral (no
files), created once per process; the warehouse is opened only for the duration of one suite and
released afterwards, because an open DuckDB handle blocks writers in other processes.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from common.faults import crash_point
from orchestration.quality import results_store
from orchestration.quality.check_result import CheckResult
from orchestration.quality.suites import (
    ROW_COUNT_CHANGE,
    UNEXPECTED_ROWS,
    UNIQUE_KEY,
    CheckDef,
    ExpectationDef,
    load_suite,
    suite_parameters,
)

log = logging.getLogger(__name__)

_SAMPLE = 5  # unexpected values / rows quoted in details
_lock = threading.Lock()  # one GX context per process; suites in it run one at a time

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


# --- Great Expectations context ---------------------------------------------------------------

_context_lock = threading.Lock()


def gx_context():
    """The process's ephemeral GX context (GX's import and start-up are slow: done once, by the
    first caller; a caller that comes while prewarm() is at it waits for the same context)."""
    with _context_lock:
        return _create_context()


@cache
def prewarm() -> threading.Thread:
    """Start GX (import and context) in a background thread, once per process, so that a suite
    that runs later in this process finds it ready. The dbt step calls this: dbt works in its own
    process, and the GX start-up (~1 s) fits in the time this one spends waiting for it. An error
    here is not lost: the suite's own gx_context() call raises it again."""
    settle_environment()
    thread = threading.Thread(target=_prewarm, name="salesdw-gx-prewarm", daemon=True)
    thread.start()
    return thread


def settle_environment() -> None:
    """Write what GX's start-up would write into os.environ (gx_duckdb: no usage statistics), in
    the calling thread, before GX starts in another: setenv while another thread reads the
    environment (DuckDB, the C library's time zone code) is not thread-safe."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _prewarm() -> None:
    try:
        gx_context()
    except Exception:  # raised again, with its traceback, when a suite asks for the context
        log.debug("GX prewarm failed", exc_info=True)


@cache
def _create_context():
    from orchestration import gc_policy

    started = time.perf_counter()
    with gc_policy.long_lived_imports():  # GX's classes and the context live as long as the process
        from orchestration.quality import gx_duckdb  # sets GX_ANALYTICS_ENABLED=false before GX loads

        gx_duckdb.apply()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # per-batch INFO chatter
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    log.info("GX context ready in %.1f s", time.perf_counter() - started)
    return context


def _expectation_class(type_name: str):
    import great_expectations as gx

    class_name = "".join(part.capitalize() for part in type_name.split("_"))
    try:
        return getattr(gx.expectations, class_name)
    except AttributeError:
        raise ValueError(f"unknown GX expectation {type_name!r}") from None


# --- Facts read before GX runs -----------------------------------------------------------------

@dataclass
class _Facts:
    relations: set[str]  # schema.table of every table and view
    as_of_date: date | None
    as_of_source: str
    landed_entities: set[str]


def _read_facts(warehouse: Path, layer: str, as_of_date: date | None, limits: dict) -> _Facts:
    with duckdb.connect(str(warehouse), read_only=True, config=limits) as con:
        relations = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()").fetchall()}
        landed: set[str] = set()
        if "quality.ingestion_ledger" in relations:
            landed = {e for (e,) in con.execute(
                "select distinct entity from quality.ingestion_ledger "
                "where status = 'loaded' and rows_loaded > 0").fetchall()}
        source = "given"
        if as_of_date is None and "intermediate.int_calendar" in relations:
            row = _try_fetch(con, "select max(as_of_date) from intermediate.int_calendar")
            as_of_date, source = (row, "intermediate.int_calendar") if row else (None, "")
        if as_of_date is None:
            schema = "raw" if layer == "raw" else "staging"
            as_of_date, source = _max_event_date(con, relations, schema), f"latest event in {schema}"
    return _Facts(relations, as_of_date, source, landed)


def _try_fetch(con, sql: str):
    try:
        return con.execute(sql).fetchone()[0]
    except duckdb.Error:  # e.g. a view whose inputs are gone
        return None


def _max_event_date(con, relations: set[str], schema: str) -> date | None:
    prefix = "stg_" if schema == "staging" else ""
    parts = [f"select {expr} as d from {schema}.{prefix}{entity}" for entity, expr in _EVENT_DATES
             if f"{schema}.{prefix}{entity}" in relations]
    return _try_fetch(con, "select max(d) from (" + " union all ".join(parts) + ") as e") if parts else None


def _parameters(layer: str, facts: _Facts) -> dict[str, Any]:
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

def _previous_row_counts(checks: list[CheckDef], previous_warehouse: Path | None,
                         quality_dir: Path, limits: dict) -> dict[int, tuple[int, str]]:
    """For each row_count_change check (by index): (row count, where it came from)."""
    wanted = {i: c for i, c in enumerate(checks)
              if any(e.type == ROW_COUNT_CHANGE for e in c.expectations)}
    found: dict[int, tuple[int, str]] = {}
    if wanted and previous_warehouse is not None and Path(previous_warehouse).exists():
        with duckdb.connect(str(previous_warehouse), read_only=True, config=limits) as con:
            present = {f"{s}.{t}" for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables").fetchall()}
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
        return (ExpectationDef("expect_table_row_count_to_be_between", {"min_value": floor}),
                f"allowed drop {exp.kwargs['max_drop']:.0%}: at least {floor} rows")
    ceiling = math.floor(previous * (1 + exp.kwargs["max_growth"]))
    return (ExpectationDef("expect_table_row_count_to_be_between", {"max_value": ceiling}),
            f"allowed growth {exp.kwargs['max_growth']:.0%}: at most {ceiling} rows")


# --- Planning: what GX must validate, what is decided without it -------------------------------

@dataclass
class _Outcome:
    passed: bool
    observed_value: str
    details: str


@dataclass
class _Planned:
    check: CheckDef
    expectations: list[ExpectationDef]
    note: str = ""  # context for details: the as_of_date used, the previous row count


def _plan(checks: list[CheckDef], facts: _Facts, params: dict, previous: dict[int, tuple[int, str]]
          ) -> tuple[dict[int, _Outcome], dict[int, _Planned]]:
    decided: dict[int, _Outcome] = {}
    planned: dict[int, _Planned] = {}
    for i, check in enumerate(checks):
        missing = [t for t in (check.table, check.batch_table) if t and t not in facts.relations]
        if missing:
            decided[i] = _Outcome(False, "table missing", f"table {missing[0]} does not exist")
            continue
        if check.only_if_landed and check.only_if_landed not in facts.landed_entities:
            decided[i] = _Outcome(True, "not landed",
                                  "skipped: the ingestion ledger has no loaded file with rows for "
                                  f"{check.only_if_landed}")
            continue
        needed = set().union(*(_parameter_names(e.kwargs) for e in check.expectations))
        if any(params.get(name) is None for name in needed):
            decided[i] = _Outcome(True, "skipped", "skipped: no as_of_date (no business events yet)")
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
        planned[i] = _Planned(check, expectations, note)
    return decided, planned


# --- Running GX -------------------------------------------------------------------------------

def _gx_expectation(exp: ExpectationDef, meta: dict):
    from orchestration.quality.gx_duckdb import RUN_ONCE

    if exp.type == UNIQUE_KEY:
        columns = ", ".join(exp.kwargs["columns"])
        # a GROUP BY over the whole table: GX would run it twice (gx_duckdb, item 9)
        query = (f"{RUN_ONCE}select {columns}, count(*) as row_count from {{batch}} "
                 f"group by {columns} having count(*) > 1")
        return _expectation_class(UNEXPECTED_ROWS)(unexpected_rows_query=query, meta=meta)
    return _expectation_class(exp.type)(**exp.kwargs, meta=meta)


def _first_error(exception_info: dict | None) -> str | None:
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "error").strip().splitlines()[0]
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _describe(exp: ExpectationDef, validation, params: dict) -> tuple[bool, str, str]:
    """(success, observed value, details) of one GX expectation result."""
    error = _first_error(validation.exception_info)
    if error:
        return False, "error", error
    result = validation.result or {}
    if "unexpected_count" in result and "element_count" in result:
        observed = f"{result['unexpected_count'] or 0} of {result['element_count']} rows"
        sample = result.get("partial_unexpected_list") or []
        details = f"unexpected values: {_fmt(sample[:_SAMPLE])}" if sample else ""
        if "mostly" in exp.kwargs:
            details = f"{details}; required share {exp.kwargs['mostly']:g}".lstrip("; ")
        return validation.success, observed, details
    if exp.type in (UNIQUE_KEY, UNEXPECTED_ROWS):
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        sample = _fmt(rows[:_SAMPLE]) if rows else ""
        return validation.success, f"{result.get('observed_value')} {exp.unit}", sample
    # a column aggregate states its bounds; a table row count's band is in the check's note
    bounds = [f"{k} {_fmt(_resolve(exp.kwargs[k], params))}" for k in ("min_value", "max_value")
              if k in exp.kwargs and "column" in exp.kwargs]
    return validation.success, _fmt(result.get("observed_value")), ", ".join(bounds)


def _resolve(value: Any, params: dict) -> Any:
    """A kwarg as GX used it: {$PARAMETER: name} replaced by the run's value."""
    return params.get(value["$PARAMETER"]) if isinstance(value, dict) and "$PARAMETER" in value else value


def _validate_source(datasource, name: str, source: str, is_query: bool,
                     parts: list[tuple[int, int, ExpectationDef]], params: dict) -> dict:
    """Validate every (check, part) of one batch source; returns {(check, part): result}."""
    import great_expectations as gx

    if is_query:
        asset = datasource.add_query_asset(name=name, query=source)
    else:
        schema, table = source.split(".", 1)
        asset = datasource.add_table_asset(name=name, table_name=table, schema_name=schema)
    batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
    results = {}
    # Unexpected-row expectations return their rows only in COMPLETE; column expectations in
    # SUMMARY keep to a sample instead of fetching every unexpected value.
    for complete in (False, True):
        chosen = [(i, j, e) for i, j, e in parts if (e.type in (UNIQUE_KEY, UNEXPECTED_ROWS)) == complete]
        if not chosen:
            continue
        suite = gx.ExpectationSuite(name=f"{name}-{int(complete)}", expectations=[
            _gx_expectation(e, {"check": i, "part": j}) for i, j, e in chosen])
        validation = batch.validate(
            suite, result_format="COMPLETE" if complete else "SUMMARY",
            expectation_parameters={k: v for k, v in params.items() if v is not None})
        for er in validation.results:
            meta = er.expectation_config.meta
            results[(meta["check"], meta["part"])] = er
    return results


def _run_gx(warehouse: Path, planned: dict[int, _Planned], params: dict, limits: dict) -> dict[int, _Outcome]:
    context = gx_context()  # first: GX is imported there, once, under the process's collector policy
    from orchestration.quality import gx_duckdb

    by_source: dict[str, list[tuple[int, int, ExpectationDef]]] = {}
    for i, plan in planned.items():
        for j, exp in enumerate(plan.expectations):
            by_source.setdefault(plan.check.source, []).append((i, j, exp))
    datasource = context.data_sources.add_sql(
        name=f"warehouse_{uuid.uuid4().hex}", connection_string=f"duckdb:///{Path(warehouse).resolve()}",
        kwargs={"connect_args": {"read_only": True, "config": limits}})
    results: dict[tuple[int, int], Any] = {}
    failures: dict[int, str] = {}
    try:
        for n, (source, parts) in enumerate(by_source.items()):
            is_query = any(planned[i].check.query for i, _, _ in parts)
            try:
                results |= _validate_source(datasource, f"source_{n}", source, is_query, parts, params)
            except Exception as exc:  # a broken query or relation fails its checks, not the suite
                message = " ".join(str(exc).split())[:500]
                log.warning("validating %s failed: %s", " ".join(source.split())[:80], message)
                for i, _, _ in parts:
                    failures[i] = message
    finally:
        gx_duckdb.release(datasource)
        context.data_sources.delete(datasource.name)
    return {i: _outcome(plan, [results.get((i, j)) for j in range(len(plan.expectations))],
                        failures.get(i), params)
            for i, plan in planned.items()}


def _outcome(plan: _Planned, validations: list, failure: str | None, params: dict) -> _Outcome:
    if failure or any(v is None for v in validations):
        return _Outcome(False, "error", failure or "GX returned no result for this check")
    parts = [(exp, *_describe(exp, v, params)) for exp, v in zip(plan.expectations, validations)]
    passed = all(ok for _, ok, _, _ in parts)
    shown = parts if passed else [p for p in parts if not p[1]]  # failures first and only
    # parts are named by their label (a column, a rule) so a reader sees which one failed
    observed = "; ".join(f"{exp.label}: {obs}" if exp.label else obs for exp, _, obs, _ in shown)
    details = "; ".join(f"{exp.label}: {det}" if exp.label else det for exp, _, _, det in shown if det)
    return _Outcome(passed, observed, "; ".join(x for x in (details, plan.note) if x))


# --- Public entry point -------------------------------------------------------------------------

def run_suite(layer: str, warehouse: Path, *, run_id: str, quality_dir: Path,
              as_of_date: date | None = None, previous_warehouse: Path | None = None,
              duckdb_limits: dict | None = None, only: set[tuple[str, str]] | None = None) -> list[CheckResult]:
    """Run every check of `layer` against `warehouse`, append the results to the store, return them.

    only: run just these (asset, check name) pairs of the suite (a subset selected in the UI).
    as_of_date: the reference "today" (default: intermediate.int_calendar, else the latest business
    event in the layer's schema). previous_warehouse: the serving warehouse of the previous publish,
    for row-count changes (default: the latest passed result of the same check in the store).
    duckdb_limits: DuckDB config of every connection (Settings.duckdb_limits: memory limit, spill
    folder, threads); without it DuckDB may take 80% of the machine's memory on a large layer.
    """
    started = time.perf_counter()
    checks = [c for c in load_suite(layer) if only is None or (c.asset, c.name) in only]
    warehouse, quality_dir = Path(warehouse), Path(quality_dir)
    if not warehouse.exists():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist")
    with _lock:
        limits = dict(duckdb_limits or {})
        facts = _read_facts(warehouse, layer, as_of_date, limits)
        params = _parameters(layer, facts)
        previous = _previous_row_counts(checks, previous_warehouse, quality_dir, limits)
        decided, planned = _plan(checks, facts, params, previous)
        outcomes = decided | (_run_gx(warehouse, planned, params, limits) if planned else {})
    checked_at = datetime.now(timezone.utc).replace(tzinfo=None)
    results = [
        CheckResult(run_id=run_id, layer=layer, asset=c.asset, check_name=c.name,
                    passed=outcomes[i].passed, severity=c.severity,
                    observed_value=outcomes[i].observed_value, details=outcomes[i].details,
                    checked_at=checked_at)
        for i, c in enumerate(checks)
    ]
    results_store.append(quality_dir, results)
    crash_point("checks")
    log.info("%s suite: %d checks, %d failed, %.1f s", layer, len(results),
             sum(not r.passed for r in results), time.perf_counter() - started)
    return results
