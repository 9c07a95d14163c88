"""dbt models as Dagster assets (staging -> intermediate -> marts), dbt tests as asset checks.

Before dbt runs, the raw zone is exposed to the build warehouse as `raw.<entity>` views, so the
dbt sources (linked to the ingestion assets through meta.dagster.asset_key) read every batch.
With SALESDW_ENGINE=spark, dbt builds on Spark (profile target `spark`) from external Parquet
tables over the same raw zone, and the Spark build is then copied into the DuckDB build warehouse
(ingestion/raw_spark.py), where the GX checks and the publish step read it as on DuckDB.
"""


import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ingestion.file_modes import private_file
from ingestion.raw_zone import expose_file
from orchestration.dbt_launcher import launch_env
from orchestration.dbt_manifest import dbt_project, ensure_manifest, seed_partial_parse
from orchestration.faults import crash_point
from orchestration.policies import BUILD_STEP_TAGS, WAREHOUSE_POOL
from orchestration.publish import stamp_build
from orchestration.quality import prewarm, raw_audit
from orchestration.quality.asset_checks import planned_suites
from orchestration.resources import SalesdwResource
from orchestration.run_lock import run_lock
from orchestration.settings import Settings, environment


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
    op_tags=BUILD_STEP_TAGS,
)
def dbt_warehouse(context: AssetExecutionContext, dbt: DbtCliResource, salesdw: SalesdwResource):
    settings = salesdw.settings
    # Unit tests pin SQL logic on fixed inputs: they run in `make test` (every hand-fixture build),
    # not on every production refresh, where they would only add minutes.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if settings.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": settings.as_of_date})]
    with run_lock(settings.lock_file):
        # From here until dbt has succeeded, no run vouches for the build (publish.audit_refusal).
        stamp_build(settings, None)
        # Also here, so a dbt-only run on a fresh (or deleted) build warehouse still finds raw.*
        # (on Spark too: the raw-layer checks and the publish step read raw.* from this file)
        expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
        if settings.engine == "spark":
            run_spark_helper(context, settings, "expose", "--raw-dir", str(settings.raw_dir))
        # One target folder per data dir: dbt's partial parse survives between runs (a new folder
        # per run would re-parse the whole project every time), and artifacts stay beside the data;
        # the first run in a new data dir starts from the parse prepared at set-up.
        target = settings.data_dir / "dbt_target"
        seed_partial_parse(target)
        # The suites run after the build, in this process: the raw suite (it does not read the
        # build) and GX's start-up for the others happen in the background while dbt works, from
        # when dbt has started and the process environment is back as it was (and left alone).
        suites = planned_suites(context)  # asked first: it reads the run storage and could fail
        # The dbt profile reads the warehouse path and engine limits from the environment; the dbt
        # launcher, which dbt to run, where, and which process it lives and dies with.
        with environment({**settings.dbt_run_env(), **launch_env()}):
            build = dbt.cli(args, context=context, target_path=target)  # dbt starts, with this environment
        if "raw" in suites:
            raw_audit.start(settings, context.run_id)
        elif suites:
            prewarm()
        for event in build.stream():
            yield event
            crash_point("dbt")
        if settings.engine == "spark":
            # the checks and the publish step then read the Spark build from the DuckDB build file
            run_spark_helper(context, settings, "export", "--warehouse", str(settings.build_warehouse),
                             "--export-dir", str(settings.spark_dir / "export"))
        private_file(settings.build_warehouse)
        stamp_build(settings, context.run_id)


def run_spark_helper(context: AssetExecutionContext, settings: Settings, *args: str) -> None:
    """ingestion.raw_spark in its own process: Spark's Derby metastore admits one process at a
    time, so it must be closed again before (and after) dbt opens it."""
    proc = subprocess.run([sys.executable, "-m", "ingestion.raw_spark", *args], env={**os.environ, **settings.dbt_env()},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ingestion.raw_spark {args[0]} failed:\n{proc.stderr[-4000:]}")
    context.log.info(proc.stdout.strip())


def mart_keys() -> list[AssetKey]:
    return sorted((k for k in dbt_warehouse.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
