"""A failing dbt data test refuses the publish: the reconciliation of mart_rep_kpi_monthly with
staging (dbt_project/tests/reconciliation/rep_net_revenue_matches_orders_and_refunds.sql) fails on
a mart seeded with a bug, and the Dagster step that would publish never runs: the serving
warehouse stays yesterday's, byte for byte.

The bug is seeded in a copy of the dbt project (one line of the mart's SQL); the pipeline's own
Dagster assets run it through the pipeline's own dbt resource, on the demo company's raw zone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets.serving import sales_warehouse
from orchestration.assets.warehouse import dbt_warehouse
from orchestration.dbt_launcher import LAUNCHER
from orchestration.dbt_resource import SalesdwDbtCliResource
from orchestration.publish import PUBLISH_LOG, last_publish
from orchestration.resources import SalesdwResource
from orchestration.settings import DBT_PROJECT_DIR, get_settings

RECONCILIATION = "rep_net_revenue_matches_orders_and_refunds"
MART_SQL = Path("models") / "marts" / "mart_rep_kpi_monthly.sql"


def project_with_a_bug(target: Path) -> Path:
    """A copy of the dbt project whose rep mart adds one unit of revenue to every row."""
    shutil.copytree(DBT_PROJECT_DIR, target, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    sql = (target / MART_SQL).read_text()
    (target / MART_SQL).write_text(
        "select * replace (cast(net_revenue + 1 as decimal(18, 2)) as net_revenue)\nfrom (\n" + sql + "\n) as seeded\n"
    )
    return target


@pytest.fixture
def yesterday(tmp_path, demo_run):
    """A data dir holding the demo's raw zone and a published warehouse (yesterday's publish)."""
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    data_dir = tmp_path / "data"
    for folder in ("raw", "quality"):
        shutil.copytree(demo_run.data_dir / folder, data_dir / folder)
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    for name in (settings.serving_warehouse.name, PUBLISH_LOG):
        shutil.copyfile(demo_run.warehouse.parent / name, settings.warehouse_dir / name)
    return settings


def test_a_failing_reconciliation_refuses_the_publish_and_leaves_the_serving_file_byte_for_byte(
    yesterday, tmp_path, monkeypatch
):
    # the parse prepared at set-up is the unseeded project's: dbt parses the copy afresh
    monkeypatch.setenv("DBT_PARTIAL_PARSE", "false")
    served, yesterdays_run = yesterday.serving_warehouse.read_bytes(), last_publish(yesterday).run_id
    project = project_with_a_bug(tmp_path / "dbt_project")
    # dagster-dbt hands dbt the project of the assets' manifest (DBT_PROJECT_DIR): the pipeline's
    # launcher is started with the seeded copy's instead
    launcher = tmp_path / "seeded_launcher"
    launcher.write_text(f'#!/bin/sh\nDBT_PROJECT_DIR="{project}" exec "{LAUNCHER}" "$@"\n')
    launcher.chmod(0o755)
    dbt = SalesdwDbtCliResource(project_dir=str(project), profiles_dir=str(project), dbt_executable=str(launcher))
    result = dg.materialize(
        [dbt_warehouse, sales_warehouse],
        resources={"salesdw": SalesdwResource(data_dir=str(yesterday.data_dir)), "dbt": dbt},
        raise_on_error=False,
    )
    failed_checks = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    published = [e.asset_key for e in result.get_asset_materialization_events()]
    assert not result.success
    assert RECONCILIATION in failed_checks  # the seeded bug is what the dbt test caught
    assert dg.AssetKey(["serving", "sales_warehouse"]) not in published
    assert yesterday.serving_warehouse.read_bytes() == served
    assert last_publish(yesterday).run_id == yesterdays_run
