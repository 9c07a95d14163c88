"""dbt source freshness of the raw zone as Dagster asset checks (orchestration/source_freshness.py):
the thresholds come from the dbt vars through the manifest, the status follows dbt's rule, and the
newest _loaded_at is read from the raw zone the session's demo run loaded."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg
import duckdb
import yaml

from orchestration.settings import DBT_PROJECT_DIR, get_settings
from orchestration.source_freshness import SourceFreshness, evaluate, freshness_rules, newest_loads

RULE = SourceFreshness(
    dg.AssetKey(["raw", "orders"]), "orders", "_loaded_at", timedelta(hours=36), timedelta(hours=168)
)
NOW = datetime(2026, 3, 10, 12, 0)


def test_every_raw_source_carries_the_thresholds_of_the_dbt_vars():
    project_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    rules = freshness_rules()
    assert len(rules) >= 15
    for rule in rules:
        assert rule.loaded_at_field == "_loaded_at" and rule.asset_key.path == ["raw", rule.table]
        assert rule.warn_after == timedelta(hours=project_vars["raw_freshness_warn_hours"])
        assert rule.error_after == timedelta(hours=project_vars["raw_freshness_error_hours"])


def test_status_is_pass_warn_or_error_by_the_age_of_the_newest_row():
    statuses = {age: evaluate(RULE, NOW - timedelta(hours=age), NOW) for age in (1, 36, 37, 168, 169)}
    assert {a: r.metadata["status"].value for a, r in statuses.items()} == {
        1: "pass",
        36: "pass",
        37: "warn",
        168: "warn",
        169: "error",
    }
    assert statuses[37].severity == dg.AssetCheckSeverity.WARN and not statuses[37].passed
    assert statuses[169].severity == dg.AssetCheckSeverity.ERROR
    never_loaded = evaluate(RULE, None, NOW)
    assert never_loaded.metadata["status"].value == "error" and not never_loaded.passed


def test_newest_load_is_the_demo_runs_load_time(demo_run):
    settings = get_settings(demo_run.data_dir)
    newest = newest_loads(settings, [RULE])["orders"]
    ledger = settings.quality_dir / "ledger"
    assert ledger.is_dir()
    with duckdb.connect() as con:
        (expected,) = con.execute(
            f"select max(started_at) from read_parquet('{ledger}/**/*.parquet') "
            "where entity = 'orders' and status = 'loaded'"
        ).fetchone()
    # the batch's _loaded_at is stamped while its file is read: within the attempt's minute
    assert expected is not None and abs(newest - expected) < timedelta(minutes=1)
