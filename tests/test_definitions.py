"""The Dagster definitions load, and the asset graph matches its reviewed snapshot.

An accidental change to the graph (an asset renamed, a dependency lost, a check dropped) shows up
in review as a diff of tests/snapshots/asset_graph.txt. A missing snapshot fails the test; after
an intended change, regenerate it explicitly with `make snapshots`
(SALESDW_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_definitions.py -k snapshot).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from orchestration.definitions import defs
from tests.quality_support import MART_TABLES

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"


def describe_graph() -> str:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys))
        lines.append(f"{key.to_user_string()} [{node.group_name}] <- {parents}")
    for check_key in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        lines.append(f"check {check_key.asset_key.to_user_string()}:{check_key.name}")
    lines += [f"job {j.name}" for j in repo.get_all_jobs() if not j.name.startswith("__")]
    lines += [f"schedule {s.name} {s.cron_schedule}" for s in repo.schedule_defs]
    lines += [f"sensor {s.name}" for s in repo.sensor_defs]
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_snapshot():
    current = describe_graph()
    if os.environ.get("SALESDW_UPDATE_SNAPSHOTS"):  # `make snapshots`: only ever on request
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: review the graph, then write it with `make snapshots`"
    assert current == SNAPSHOT.read_text()


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, stack = set(), [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_every_mart_of_the_contract_is_an_asset_downstream_of_its_raw_sources():
    graph = defs.get_repository_def().asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    contract = set(MART_TABLES)  # every mart of the contract (marts.md)
    assert {f"marts/{m}" for m in contract} <= keys
    assert dg.AssetKey(["raw", "orders"]) in _ancestors(graph, dg.AssetKey(["marts", "mart_rep_kpi_monthly"]))
    publish_parents = _ancestors(graph, dg.AssetKey(["serving", "sales_warehouse"]))
    assert {dg.AssetKey(["marts", m]) for m in contract} <= publish_parents


def test_every_dbt_test_is_an_asset_check():
    # A test dagster-dbt cannot attach to one asset (a singular test over several models, without
    # meta.dagster.ref) is only logged as an observation: not listed as a check, not blocking.
    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    from orchestration.assets.warehouse import translator
    from orchestration.dbt_manifest import dbt_project, ensure_manifest

    manifest = json.loads(ensure_manifest().read_text())
    tests = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"]
    unattached = [uid for uid in tests if get_asset_check_key_for_test(manifest, translator, uid, dbt_project) is None]
    assert tests and unattached == []
    check_keys = defs.get_repository_def().asset_graph.asset_check_keys
    reconciliation = {
        k.asset_key.to_user_string() for k in check_keys if k.name == "rep_net_revenue_matches_orders_and_refunds"
    }
    assert reconciliation == {"marts/mart_rep_kpi_monthly"}


def test_every_asset_check_has_a_description():
    # the UI lists every check with its description; dbt tests have none of their own
    # (orchestration/assets/warehouse.py describes them)
    repo = defs.get_repository_def()
    specs = [spec for assets_def in repo.asset_graph.assets_defs for spec in assets_def.check_specs]
    assert len({(s.asset_key, s.name) for s in specs}) == len(repo.asset_graph.asset_check_keys)
    from orchestration.assets.warehouse import dbt_warehouse

    assert len(list(dbt_warehouse.check_specs)) > 80
    assert [f"{s.asset_key.to_user_string()}:{s.name}" for s in specs if not (s.description or "").strip()] == []


def test_dbt_tests_are_described_from_their_arguments_or_their_sql_header():
    from orchestration.assets.warehouse import describe_dbt_test

    manifest = {"nodes": {"model.salesdw.stg_orders": {"name": "stg_orders"}}}

    def generic(name, **kwargs):
        return {
            "name": "t",
            "description": "",
            "attached_node": "model.salesdw.stg_orders",
            "test_metadata": {"name": name, "kwargs": {**kwargs, "model": "{{ ref('stg_orders') }}"}},
        }

    assert describe_dbt_test(generic("unique", column_name="order_id"), manifest) == "order_id is unique in stg_orders."
    assert (
        describe_dbt_test(
            generic("relationships", column_name="account_id", to="ref('stg_accounts')", field="account_id"), manifest
        )
        == "Every account_id of stg_orders exists as account_id in stg_accounts."
    )
    assert (
        describe_dbt_test(generic("accepted_values", column_name="status", values=["a", "b"]), manifest)
        == "status in stg_orders only takes the values a, b."
    )
    contract = generic(
        "model_contract",
        not_null=["order_id", "status"],
        unique=["order_id", ["account_id", "order_date"]],
        accepted_values={"status": ["completed", "pending"]},
    )
    assert describe_dbt_test(contract, manifest) == (
        "Contract of stg_orders: no null in order_id, status; one row per (order_id); "
        "one row per (account_id, order_date); status only completed, pending."
    )
    assert describe_dbt_test({**contract, "description": "Why: joins fan out."}, manifest).endswith(
        "status only completed, pending. Why: joins fan out."
    )
    assert (
        describe_dbt_test(generic("expression_is_true", expression="x > 0"), manifest)
        == "dbt test expression_is_true on stg_orders (expression=x > 0)."
    )
    singular = {
        "name": "totals_match",
        "description": "",
        "test_metadata": {},
        "raw_code": "-- Totals match.\n-- Returns a row when they differ.\nselect 1\n-- not this",
    }
    assert describe_dbt_test(singular, manifest) == "Totals match. Returns a row when they differ."
    assert describe_dbt_test({**singular, "description": "Own words."}, manifest) == "Own words."


# --- the dbt step's command and environment (orchestration/assets/warehouse.py) -----------------


def test_the_dbt_command_builds_everything_but_the_unit_tests():
    from orchestration.assets.warehouse import _dbt_args

    assert _dbt_args(None) == ["build", "--exclude-resource-type", "unit_test"]
    assert _dbt_args("") == _dbt_args(None)  # an empty SALESDW_AS_OF_DATE is no date


def test_an_as_of_date_becomes_the_dbt_variable():
    from orchestration.assets.warehouse import _dbt_args

    args = _dbt_args("2025-06-30")
    assert args[:3] == _dbt_args(None)
    assert args[3] == "--vars" and json.loads(args[4]) == {"as_of_date": "2025-06-30"}
    assert len(args) == 5


def test_a_retired_batch_and_another_reporting_currency_reach_the_dbt_command():
    from orchestration.assets.warehouse import _dbt_args

    assert _dbt_args(None, full_refresh=True) == _dbt_args(None) + ["--full-refresh"]
    args = _dbt_args("2025-06-30", reporting_currency="EUR")
    assert json.loads(args[args.index("--vars") + 1]) == {"as_of_date": "2025-06-30", "reporting_currency": "EUR"}
    assert "--vars" not in _dbt_args(None, reporting_currency="CNY")  # the project's default needs no var


def test_dbt_starts_in_the_data_dir_with_relative_paths_on_duckdb_and_absolute_ones_on_spark(tmp_path):
    from dataclasses import replace

    from orchestration.assets.warehouse import _dbt_env
    from orchestration.dbt_launcher import DBT_CWD_ENV
    from orchestration.settings import get_settings

    settings = replace(get_settings(tmp_path), engine="duckdb")
    env = _dbt_env(settings, {"LAUNCHER": "x", "SALESDW_DBT_TARGET": "from-launcher"})
    assert env[DBT_CWD_ENV] == str(tmp_path.resolve())
    assert (tmp_path / env["SALESDW_BUILD_WAREHOUSE"]).resolve() == settings.build_warehouse
    assert env["LAUNCHER"] == "x" and env["SALESDW_DBT_TARGET"] == "from-launcher"  # the launcher's last
    spark = _dbt_env(replace(settings, engine="spark"), {})
    assert spark["SALESDW_DBT_TARGET"] == "spark" and DBT_CWD_ENV not in spark
    assert spark["SALESDW_BUILD_WAREHOUSE"] == str(settings.build_warehouse)
