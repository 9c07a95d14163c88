"""Run a layer's expectation suite with Great Expectations, in the database, and store the results.

GX validates through a SQL data source on the DuckDB build warehouse (duckdb-engine, read-only):
every metric is a query in DuckDB, nothing is pulled into pandas. The GX context is ephemeral (no
files), created once per process; the warehouse is opened only for the duration of one suite and
released afterwards, because an open DuckDB handle blocks writers in other processes.

The steps live beside it: GX start-up (gx_startup.py), planning (planning.py) and reading GX's
results (gx_results.py); this module runs the planned expectations in GX and stores the results.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from common.faults import crash_point
from orchestration.quality import gx_results, planning, results_store
from orchestration.quality.check_result import CheckResult
from orchestration.quality.gx_startup import gx_context
from orchestration.quality.suites import UNEXPECTED_ROWS, ExpectationDef, load_suite

log = logging.getLogger(__name__)

_lock = threading.Lock()  # one GX context per process; suites in it run one at a time


# --- Running GX -------------------------------------------------------------------------------


def _expectation_class(type_name: str):
    import great_expectations as gx

    class_name = "".join(part.capitalize() for part in type_name.split("_"))
    try:
        return getattr(gx.expectations, class_name)
    except AttributeError:
        raise ValueError(f"unknown GX expectation {type_name!r}") from None


def _gx_expectation(exp: ExpectationDef, meta: dict):
    return _expectation_class(exp.type)(**exp.kwargs, meta=meta)


def _validate_source(
    datasource, name: str, source: str, is_query: bool, parts: list[tuple[int, int, ExpectationDef]], params: dict
) -> dict:
    """Validate every (check, part) of one batch source; returns {(check, part): result}."""
    import great_expectations as gx

    if is_query:
        asset = datasource.add_query_asset(name=name, query=_materialized(datasource, name, source))
    else:
        schema, table = source.split(".", 1)
        asset = datasource.add_table_asset(name=name, table_name=table, schema_name=schema)
    batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
    results = {}
    # Unexpected-row expectations return their rows only in COMPLETE; column expectations in
    # SUMMARY keep to a sample instead of fetching every unexpected value.
    for complete in (False, True):
        chosen = [(i, j, e) for i, j, e in parts if (e.type == UNEXPECTED_ROWS) == complete]
        if not chosen:
            continue
        suite = gx.ExpectationSuite(
            name=f"{name}-{int(complete)}",
            expectations=[_gx_expectation(e, {"check": i, "part": j}) for i, j, e in chosen],
        )
        validation = batch.validate(
            suite,
            result_format="COMPLETE" if complete else "SUMMARY",
            expectation_parameters={k: v for k, v in params.items() if v is not None},
        )
        for er in validation.results:
            meta = er.expectation_config.meta
            results[(meta["check"], meta["part"])] = er
    return results


def _materialized(datasource, name: str, query: str) -> str:
    """The query GX validates for a query check: its rows, computed once into a temporary table.

    GX computes each metric of a query asset over the query itself, so a check's SQL would run
    three or four times (its columns, its row count, each metric), and a reconciliation or a
    coverage join reads millions of staging rows every time. The table lives on GX's one
    connection (gx_duckdb, 1.) until the suite releases it. A query that fails is handed to GX
    as it is, which reports its error on each of its checks as it always has."""
    import sqlalchemy as sa

    engine, table = datasource.get_execution_engine(), f"materialized_{name}"
    try:
        engine.execute_query_in_transaction(sa.text(f"create temp table {table} as {query}"))
    except sa.exc.DBAPIError:
        with engine.get_connection() as connection:
            connection.rollback()
        return query
    return f"select * from temp.main.{table}"


def _run_gx(
    warehouse: Path, planned: dict[int, planning.Planned], params: dict, limits: dict
) -> dict[int, planning.Outcome]:
    context = gx_context()  # first: GX is imported there, once, under the process's collector policy
    from orchestration.quality import gx_duckdb

    by_source: dict[str, list[tuple[int, int, ExpectationDef]]] = {}
    for i, plan in planned.items():
        for j, exp in enumerate(plan.expectations):
            by_source.setdefault(plan.check.source, []).append((i, j, exp))
    datasource = context.data_sources.add_sql(
        name=f"warehouse_{uuid.uuid4().hex}",
        connection_string=f"duckdb:///{Path(warehouse).resolve()}",
        kwargs={"connect_args": {"read_only": True, "config": limits}},
    )
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
    return {
        i: gx_results.outcome(
            plan, [results.get((i, j)) for j in range(len(plan.expectations))], failures.get(i), params
        )
        for i, plan in planned.items()
    }


# --- Public entry point -------------------------------------------------------------------------


def run_suite(
    layer: str,
    warehouse: Path,
    *,
    run_id: str,
    quality_dir: Path,
    as_of_date: date | None = None,
    previous_warehouse: Path | None = None,
    duckdb_limits: dict | None = None,
    only: set[tuple[str, str]] | None = None,
) -> list[CheckResult]:
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
        facts = planning.read_facts(warehouse, layer, as_of_date, limits)
        params = planning.parameters(layer, facts)
        previous = planning.previous_row_counts(checks, previous_warehouse, quality_dir, limits)
        decided, planned = planning.plan(checks, facts, params, previous)
        outcomes = decided | (_run_gx(warehouse, planned, params, limits) if planned else {})
    checked_at = datetime.now(timezone.utc).replace(tzinfo=None)
    results = [
        CheckResult(
            run_id=run_id,
            layer=layer,
            asset=c.asset,
            check_name=c.name,
            passed=outcomes[i].passed,
            severity=c.severity,
            observed_value=outcomes[i].observed_value,
            details=outcomes[i].details,
            checked_at=checked_at,
        )
        for i, c in enumerate(checks)
    ]
    results_store.append(quality_dir, results)
    crash_point("checks")
    log.info(
        "%s suite: %d checks, %d failed, %.1f s",
        layer,
        len(results),
        sum(not r.passed for r in results),
        time.perf_counter() - started,
    )
    return results
