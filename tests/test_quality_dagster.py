"""The suites as Dagster asset checks: specs from the YAML, results from a real suite run."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.assets.serving import sales_warehouse
from orchestration.assets.warehouse import dbt_warehouse, mart_keys
from orchestration.policies import BUILD_STEP_TAGS
from orchestration.publish import stamp_build
from orchestration.quality import CheckResult, asset_checks, results_store
from orchestration.quality.asset_checks import build_quality_checks
from orchestration.quality.suites import load_suite
from orchestration.resources import SalesdwResource
from orchestration.settings import get_settings
from tests.quality_support import MART_TABLES, build_marts_warehouse


def _stand_in(table):
    @dg.asset(key_prefix=["marts"], name=table)
    def _mart():
        """Stands in for the dbt model: the warehouse is prepared by the test."""

    return _mart


@dg.asset(key=["published"], deps=[dg.AssetKey(["marts", "mart_rep_kpi_monthly"])])
def published():
    """Stands in for the publish step downstream of the marts."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dagster")
    settings = get_settings(data_dir)
    build_marts_warehouse(settings.build_warehouse)
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("update marts.mart_rep_kpi_monthly set win_rate = 1.3 where rep_id = 'R2'")
    result = dg.materialize(
        [*(_stand_in(t) for t in MART_TABLES), published, *build_quality_checks("marts")],
        resources={"salesdw": SalesdwResource(data_dir=str(data_dir))},
        raise_on_error=False,
    )
    return result, settings


def test_specs_mirror_the_suite_with_blocking_errors():
    [checks] = build_quality_checks("staging")
    specs = {(spec.asset_key.to_user_string(), spec.name): spec for spec in checks.check_specs}
    assert len(specs) == len(load_suite("staging"))
    rates = specs[("staging/stg_fx_rates", "fx_rate_present")]
    assert rates.blocking and "Without that rate it stays in its own currency" in rates.description
    assert not specs[("staging/stg_orders", "account_coverage")].blocking


def test_blocking_failure_is_reported_as_an_error(run):
    result, _ = run
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == len(load_suite("marts"))
    failed = evaluations[("marts/mart_rep_kpi_monthly", "rates_within_0_1")]
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert failed.metadata["observed_value"].value == "win_rate: 1 of 4 rows"
    passed = evaluations[("marts/dim_customers", "customer_touches_consistent")]
    assert (passed.passed, passed.metadata["observed_value"].value) == (True, "inconsistent_customers: 0")
    assert [k for k, e in evaluations.items() if not e.passed] == [("marts/mart_rep_kpi_monthly", "rates_within_0_1")]


def test_blocking_failure_stops_downstream_assets(run):
    result, _ = run
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "marts/mart_rep_kpi_monthly" in materialized
    assert "published" not in materialized


def test_results_land_in_the_store_under_the_dagster_run_id(run):
    result, settings = run
    [blocking] = results_store.blocking_failures(settings.quality_dir, result.run_id)
    assert (blocking.asset, blocking.check_name) == ("marts/mart_rep_kpi_monthly", "rates_within_0_1")


def test_the_raw_suite_is_audited_after_the_build_and_blocks_only_the_publish():
    # Blocking in Dagster's sense would hold the dbt build back until GX has started; the raw
    # suite's errors refuse the publish instead (publish.py), and its step runs after the build's.
    [checks] = build_quality_checks("raw")
    specs = {(spec.asset_key.to_user_string(), spec.name): spec for spec in checks.check_specs}
    suite = {(c.asset, c.name): c for c in load_suite("raw")}
    assert specs.keys() == suite.keys()
    errors = [key for key, c in suite.items() if c.severity == "error"]
    assert errors and not any(spec.blocking for spec in specs.values())
    assert all(specs[key].description.endswith("Blocks the publish.") for key in errors)
    assert not any(specs[key].description.endswith("Blocks the publish.") for key in suite.keys() - set(errors))
    # when both are ready, the build first, then the raw checks, then the publish (policies.py)
    priority = lambda tags: int(tags.get("dagster/priority", 0))  # noqa: E731
    assert priority(dbt_warehouse.op.tags) > priority(checks.node_def.tags) > priority(sales_warehouse.op.tags)


def _raw_suite_then_publish(data_dir, raw_audit_outcome):
    """The raw suite and the real publish step after a stand-in build, the raw suite replaced by
    raw_audit_outcome(settings, run_id) (it returns results or raises)."""
    settings = get_settings(data_dir)
    build_marts_warehouse(settings.build_warehouse)
    raw_keys = sorted({tuple(c.asset_key_path) for c in load_suite("raw")})

    @dg.multi_asset(specs=[dg.AssetSpec(list(k)) for k in raw_keys])
    def raw_zone():
        """Stands in for the ingestion."""
        for k in raw_keys:
            yield dg.MaterializeResult(asset_key=list(k))

    # named to sort after raw_quality_checks: only the priority tags put it first
    @dg.multi_asset(
        specs=[dg.AssetSpec(k, deps=[list(k) for k in raw_keys]) for k in mart_keys()], op_tags=BUILD_STEP_TAGS
    )
    def warehouse_build(context):
        """Stands in for the dbt build (the warehouse is prepared by the test)."""
        stamp_build(settings, context.run.run_id)
        for k in mart_keys():
            yield dg.MaterializeResult(asset_key=k)

    original = asset_checks.audit

    def audit(settings, layer, *, run_id, only=None):
        return (
            raw_audit_outcome(settings, run_id)
            if layer == "raw"
            else original(settings, layer, run_id=run_id, only=only)
        )

    asset_checks.audit = audit
    try:
        result = dg.materialize(
            [raw_zone, warehouse_build, sales_warehouse, *build_quality_checks("raw")],
            resources={"salesdw": SalesdwResource(data_dir=str(data_dir))},
            raise_on_error=False,
        )
    finally:
        asset_checks.audit = original
    return result, settings


@pytest.fixture(scope="module")
def crashed_raw_suite(tmp_path_factory):
    """The raw suite crashes (GX down): no raw result in the store, nothing blocking either."""

    def crash(settings, run_id):
        raise RuntimeError("Great Expectations is down")

    return _raw_suite_then_publish(tmp_path_factory.mktemp("crashed"), crash)


@pytest.fixture(scope="module")
def failed_raw_suite(tmp_path_factory):
    """The raw suite finds a negative quantity (an error) and a future refund date (a warning)."""

    def failing(settings, run_id):
        results = [
            CheckResult.now(
                run_id=run_id,
                layer="raw",
                asset=c.asset,
                check_name=c.name,
                passed=(c.asset, c.name) not in FAILED,
                severity=c.severity,
                observed_value="seeded",
                details="",
            )
            for c in load_suite("raw")
        ]
        results_store.append(settings.quality_dir, results)
        return results

    return _raw_suite_then_publish(tmp_path_factory.mktemp("failed"), failing)


FAILED = {("raw/order_lines", "row_rules_hold"), ("raw/returns", "dates_not_in_future")}


def test_a_crashed_raw_suite_refuses_the_publish(crashed_raw_suite):
    result, settings = crashed_raw_suite
    failures = {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert set(failures) == {"raw_quality_checks", "serving__sales_warehouse"}
    message = failures["serving__sales_warehouse"].event_specific_data.error.cause.message
    assert "audit incomplete" in message and "no result of the raw suite" in message
    assert not settings.serving_warehouse.exists()


def test_a_failed_raw_error_check_fails_its_step_and_refuses_the_publish(failed_raw_suite):
    # The step fails like a blocking check's step, so a re-execution from failure runs the suite
    # again rather than publishing without it; every result is reported before it fails.
    result, settings = failed_raw_suite
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == len(load_suite("raw"))
    assert {k for k, e in evaluations.items() if not e.passed} == FAILED
    failures = {e.step_key: e for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert set(failures) == {"raw_quality_checks", "serving__sales_warehouse"}
    step_error = failures["raw_quality_checks"].event_specific_data.error
    assert "raw/order_lines:row_rules_hold" in step_error.message
    assert "raw/returns" not in step_error.message  # a warning does not fail the step
    refusal = failures["serving__sales_warehouse"].event_specific_data.error.cause.message
    assert "blocking checks failed: raw/order_lines:row_rules_hold" in refusal
    assert not settings.serving_warehouse.exists()


def test_the_raw_suite_runs_after_the_build_and_before_the_publish(crashed_raw_suite):
    result, _ = crashed_raw_suite
    started = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert (
        started.index("warehouse_build")
        < started.index("raw_quality_checks")
        < started.index("serving__sales_warehouse")
    )
