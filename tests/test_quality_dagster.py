"""The suites as Dagster asset checks: specs from the YAML, results from a real suite run."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.quality import results_store
from orchestration.quality.asset_checks import build_quality_checks
from orchestration.resources import SalesdwResource
from orchestration.quality.suites import load_suite
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
    key_unique = specs[("staging/stg_orders", "key_unique")]
    assert key_unique.blocking and "one (latest) version per key" in key_unique.description
    assert not specs[("staging/stg_orders", "account_coverage")].blocking


def test_blocking_failure_is_reported_as_an_error(run):
    result, _ = run
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e
                   for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == len(load_suite("marts"))
    failed = evaluations[("marts/mart_rep_kpi_monthly", "rates_within_0_1")]
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert failed.metadata["observed_value"].value == "win_rate: 1 of 4 rows"
    passed = evaluations[("marts/dim_customers", "grain_unique")]
    assert (passed.passed, passed.metadata["observed_value"].value) == (True, "0 duplicated keys")
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
