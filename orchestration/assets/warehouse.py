"""dbt models as Dagster assets (staging -> intermediate -> marts), dbt tests as asset checks.

Before dbt runs, the raw zone is exposed to the build warehouse as `raw.<entity>` views, so the
dbt sources (linked to the ingestion assets through meta.dagster.asset_key) read every batch.
"""


import json
import os
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ingestion.raw_zone import expose_file
from orchestration.dbt_manifest import dbt_project, ensure_manifest
from orchestration.policies import WAREHOUSE_POOL
from orchestration.resources import SalesdwResource
from orchestration.run_lock import run_lock


class SalesdwDbtTranslator(DagsterDbtTranslator):
    """Asset groups follow the dbt layer folders: staging, intermediate, marts (and config seeds)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "config"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)


translator = SalesdwDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def dbt_warehouse(context: AssetExecutionContext, dbt: DbtCliResource, salesdw: SalesdwResource):
    settings = salesdw.settings
    # The dbt profile reads the warehouse path and engine limits from the environment.
    os.environ.update(settings.dbt_env())
    # Unit tests pin SQL logic on fixed inputs: they run in `make test` (every hand-fixture build),
    # not on every production refresh, where they would only add minutes.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if settings.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": settings.as_of_date})]
    with run_lock(settings.lock_file):
        # Also here, so a dbt-only run on a fresh (or deleted) build warehouse still finds raw.*
        expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
        # One target folder per data dir: dbt's partial parse survives between runs (a new folder
        # per run would re-parse the whole project every time), and artifacts stay beside the data.
        yield from dbt.cli(args, context=context, target_path=settings.data_dir / "dbt_target").stream()


def mart_keys() -> list[AssetKey]:
    return sorted((k for k in dbt_warehouse.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
