"""A subset of the graph runs as the UI's "Materialize" runs it: one mart and its upstream, with the
checks of those assets only (the real job, dbt build and suites, on the session's demo company).

The subset runs on a copy of the demo's data dir, where its full refresh ran before, as an operator
re-materializes a mart: a dbt test may read a model outside the selection (relationships to stg_teams)."""

from __future__ import annotations

import json
import os
import shutil

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.quality import results_store
from orchestration.quality.suites import LAYERS, load_suite
from orchestration.refresh import STATE_FILE
from orchestration.settings import get_settings
from tests.support import dbt_relations

MART = dg.AssetKey(["marts", "mart_budget_vs_actual"])


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory, demo_run):
    from orchestration.runner import run_pipeline

    assert demo_run.exit_code == 0, demo_run.output
    data_dir = tmp_path_factory.mktemp("subset") / "data"
    shutil.copytree(demo_run.data_dir, data_dir, symlinks=True)
    state_file = get_settings(data_dir).warehouse_dir / STATE_FILE
    whole_build_state = state_file.read_text()
    landing = data_dir / "landing" / "canonical"
    selection = dg.AssetSelection.assets(MART).upstream().resolve(defs.get_repository_def().asset_graph)
    saved = dict(os.environ)  # run_pipeline points the process at its data dir
    try:
        outcome = run_pipeline(get_settings(data_dir), landing=landing, asset_selection=sorted(selection))
        with dg.DagsterInstance.from_config(str(get_settings(data_dir).dagster_home)) as instance:
            full = instance.get_runs()[-1]  # the oldest: the demo's full refresh, the first run of its data dir
            assert full.run_id != outcome.run_id and full.is_success, full.status
            row_counts = {
                r.dagster_event.asset_key.to_user_string(): (
                    r.dagster_event.event_specific_data.materialization.metadata.get("dagster/row_count")
                )
                for r in instance.all_logs(full.run_id)
                if r.dagster_event and r.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
            }
            records = instance.all_logs(outcome.run_id)
            evaluations = [
                r.get_dagster_event().event_specific_data
                for r in records
                if r.dagster_event and r.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
            ]
            messages = [r.user_message for r in records]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    stored = results_store.latest(get_settings(data_dir).quality_dir, outcome.run_id)
    states = (whole_build_state, state_file.read_text())
    return outcome, selection, evaluations, messages, stored, row_counts, get_settings(data_dir).build_warehouse, states


def test_a_subset_build_leaves_the_refresh_state_of_the_last_whole_build(subset_run):
    """why: the models a selection leaves out still lack the months it built; were the state
    committed, the next whole build would take the new batches as built and never rebuild them."""
    outcome, *_, (before, after) = subset_run
    assert outcome.success, outcome.failure_messages
    assert json.loads(before)["summary"]["refresh"] == "full"  # the demo's whole build wrote it
    assert after == before


def test_the_full_run_reports_the_row_count_of_every_stored_dbt_table(subset_run):
    *_, row_counts, build_warehouse, _states = subset_run
    tables, views = dbt_relations(build_warehouse)
    assert "marts/dim_customers" in tables and "staging/stg_contacts" in views
    reported = {key: value.value for key, value in row_counts.items() if value is not None}
    assert reported == tables  # the same subset runs again on unchanged data: counts as after the full run
    assert not views & set(reported)


def test_one_mart_and_its_upstream_run_with_their_checks_only(subset_run):
    outcome, selection, evaluations, messages, stored, *_ = subset_run
    assert outcome.success, outcome.failure_messages
    selected = {k.to_user_string() for k in selection}
    # the selection is the mart, its models and its two raw entities; not the whole graph
    assert {"raw/budgets", "raw/expenses", "staging/stg_budgets", "marts/mart_budget_vs_actual"} <= selected
    assert "raw/orders" not in selected and "marts/dim_customers" not in selected
    suite_checks = {(c.asset, c.name) for layer in LAYERS for c in load_suite(layer)}
    expected = {key for key in suite_checks if key[0] in selected}
    # the staging suite has no check on this selection: stg_budgets' key, required columns and
    # enum are its dbt contract's (suites/staging.yml), which runs with it
    assert {key[0].split("/")[0] for key in expected} == {"raw", "marts"}
    reported = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert reported & suite_checks == expected
    assert ("staging/stg_budgets", "stg_budgets_contract") in reported
    # nothing outside the selection was checked, and nothing was let through unselected
    assert {asset for asset, _ in reported} <= selected
    assert not [m for m in messages if "not selected" in m]
    # the staging and marts suites ran only the selected checks (the raw suite runs whole, in the
    # background during the build, and reports the selected ones)
    ran = {(r.asset, r.check_name) for r in stored if r.layer in ("staging", "marts")}
    assert ran == {key for key in expected if not key[0].startswith("raw/")}
