"""dbt models as Dagster assets (staging -> intermediate -> marts), dbt tests as asset checks.

Before dbt runs, the raw zone is exposed to the build warehouse as `raw.<entity>` views, so the
dbt sources (linked to the ingestion assets through meta.dagster.asset_key) read every batch.
With SALESDW_ENGINE=spark, dbt builds on Spark (profile target `spark`) from external Parquet
tables over the same raw zone, and the Spark build is then copied into the DuckDB build warehouse
(engines/raw_spark.py), where the GX checks and the publish step read it as on DuckDB.
"""

import orchestration.dbt_core_free  # noqa: F401  (first: dagster-dbt without dbt-core)

# isort: split
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from common.faults import crash_point
from ingestion.file_modes import private_file
from ingestion.raw_zone import expose_file
from ingestion.retire import clear_full_refresh
from orchestration.dbt_launcher import launch_env
from orchestration.dbt_manifest import dbt_project, ensure_manifest, seed_partial_parse
from orchestration.policies import BUILD_STEP_TAGS, WAREHOUSE_POOL
from orchestration.publish import prepare, stamp_build
from orchestration.quality import prewarm, raw_audit
from orchestration.quality.asset_checks import planned_suites
from orchestration.refresh import RefreshPlan, commit_refresh, plan_refresh, write_control
from orchestration.resources import SalesdwResource
from orchestration.run_lock import run_lock
from orchestration.settings import Settings, environment

# The publish step: the dbt step starts its marts' copy when the run plans it (publish.prepare).
PUBLISH_STEP = "serving__sales_warehouse"


class SalesdwDbtTranslator(DagsterDbtTranslator):
    """Asset groups follow the dbt layer folders: staging, intermediate, marts (and config seeds)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "config"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else super().get_group_name(dbt_resource_props)

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # dagster-dbt takes a check's description from the test's, which generic tests and the
        # singular tests here do not set: the UI would list 136 checks without a word of what they test.
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is not None and not spec.description:
            spec = spec._replace(description=describe_dbt_test(manifest["nodes"][unique_id], manifest))
        return spec


def describe_dbt_test(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """What a dbt test checks, in a sentence: the leading comment of a singular test's SQL, or a
    sentence made from a generic test's name and arguments; followed by the test's own description
    (its why), or that alone for a generic test this does not know."""
    meta = test.get("test_metadata") or {}
    if meta.get("name") == "model_contract":
        return " ".join(filter(None, [_contract_sentence(test, manifest), test.get("description")]))
    if test.get("description"):
        return test["description"]
    if not meta:
        header = []
        for line in test.get("raw_code", "").splitlines():
            if not line.startswith("--"):
                break
            header.append(line[2:].strip())
        return " ".join(header) or f"Singular dbt test {test['name']}: returns no row."
    kwargs = meta.get("kwargs", {})
    attached = manifest["nodes"].get(test.get("attached_node") or "", {}).get("name", "the model")
    column = kwargs.get("column_name")
    sentences = {
        "unique": f"{column} is unique in {attached}.",
        "not_null": f"{column} is never null in {attached}.",
        "accepted_values": f"{column} in {attached} only takes the values "
        f"{', '.join(str(v) for v in kwargs.get('values') or [])}.",
        "relationships": f"Every {column} of {attached} exists as {kwargs.get('field')} in "
        f"{str(kwargs.get('to', '')).removeprefix('ref(').removesuffix(')').strip(chr(39))}.",
    }
    arguments = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "model")
    return sentences.get(meta.get("name"), f"dbt test {meta.get('name')} on {attached} ({arguments}).")


def _contract_sentence(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """The properties of a model_contract test (dbt_project/tests/generic/model_contract.sql)."""
    kwargs = test["test_metadata"]["kwargs"]
    attached = manifest["nodes"].get(test.get("attached_node") or "", {}).get("name", "the model")
    parts = [f"no null in {', '.join(kwargs['not_null'])}"] if kwargs.get("not_null") else []
    for key in kwargs.get("unique") or []:
        parts.append(f"one row per ({key if isinstance(key, str) else ', '.join(key)})")
    for column, values in (kwargs.get("accepted_values") or {}).items():
        parts.append(f"{column} only {', '.join(str(v) for v in values)}")
    return f"Contract of {attached}: {'; '.join(parts)}."


translator = SalesdwDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _dbt_args(as_of_date: str | None, full_refresh: bool = False, reporting_currency: str = "CNY") -> list[str]:
    """The dbt command of the build step. Unit tests pin SQL logic on fixed inputs: they run in
    `make test` (every hand-fixture build), not on every production refresh, where they would only
    add minutes. as_of_date (SALESDW_AS_OF_DATE) becomes the dbt variable the calendar ends at;
    full_refresh rebuilds the incremental models whole (orchestration/refresh.py says when; a month
    refresh instead rebuilds the months in control.rebuild_months, which is no argument here)."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    build_vars = _build_vars(as_of_date, reporting_currency)
    if build_vars:
        args += ["--vars", json.dumps(build_vars)]
    return args


def _build_vars(as_of_date: str | None, reporting_currency: str = "CNY") -> dict[str, str]:
    """The dbt vars of the build: only those that differ from the project's defaults, which the
    prepared partial parse was made with. Staging converts amounts to the reporting currency."""
    build_vars = {"as_of_date": as_of_date} if as_of_date else {}
    if reporting_currency != "CNY":
        build_vars["reporting_currency"] = reporting_currency
    return build_vars


def plan_build(settings: Settings) -> tuple[RefreshPlan, list[str]]:
    """This build's refresh plan (full or which months; orchestration/refresh.py) and dbt command."""
    plan = plan_refresh(settings, _build_vars(settings.as_of_date, settings.reporting_currency))
    return plan, _dbt_args(settings.as_of_date, plan.full, settings.reporting_currency)


def build_args(settings: Settings) -> list[str]:
    """The dbt command the next build of this data dir runs (plan_build)."""
    return plan_build(settings)[1]


def _dbt_env(settings: Settings, launcher: Mapping[str, str]) -> dict[str, str]:
    """The environment dbt starts with: what the dbt profile reads (the warehouse path, engine
    limits; settings.dbt_run_env) and what the dbt launcher needs (launch_env: which dbt, the
    working directory, the process it lives and dies with)."""
    return {**settings.dbt_run_env(), **launcher}


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
    op_tags=BUILD_STEP_TAGS,
)
def dbt_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource, salesdw: SalesdwResource):
    settings = salesdw.settings
    with run_lock(settings.lock_file):
        plan, args = plan_build(settings)
        _unvouch_and_expose_raw(context, settings)
        write_control(settings, plan)
        context.log.info(f"refresh plan: {plan.metadata()}")
        target = _dbt_target(settings)
        steps = _planned_steps(context)  # asked first: it reads the run storage and could fail
        build = _start_dbt(context, dbt, settings, target, args)
        _start_checks_beside_build(context, settings, planned_suites(steps))
        yield from stream_with_row_counts(context, build, plan.metadata())
        _vouch_for_build(context, settings)
        _commit_unless_subset(context, settings, plan, args)
        if PUBLISH_STEP in steps:  # the marts' copy while the checks run; the build is final now
            prepare(settings, context.run.run_id)


def _planned_steps(context: dg.AssetExecutionContext) -> set[str]:
    """The step keys this run executes: the suites that run beside the build and whether the publish
    follows it depend on them."""
    snapshot = context.instance.get_execution_plan_snapshot(context.run.execution_plan_snapshot_id)
    return set(snapshot.step_keys_to_execute)


def _commit_unless_subset(context: dg.AssetExecutionContext, settings: Settings, plan, args: list[str]) -> None:
    """A whole build is the base of the next refresh. A selection of the models (the UI's
    "Materialize selected") is not: the models it left out still lack the new months, so the next
    whole build must plan from the last whole one, and a pending full refresh stays pending."""
    if context.is_subset:
        context.log.info("a selection of the dbt models was built: the refresh state stays at the last whole build")
        return
    if "--full-refresh" in args:
        clear_full_refresh(settings.warehouse_dir)
    commit_refresh(settings, plan)


def _unvouch_and_expose_raw(context: dg.AssetExecutionContext, settings: Settings) -> None:
    """From here until dbt has succeeded, no run vouches for the build (publish.audit_refusal).
    raw.* is exposed here too, so a dbt-only run on a fresh (or deleted) build warehouse still
    finds it (on Spark too: the raw-layer checks and the publish step read raw.* from this file)."""
    stamp_build(settings, None)
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    if settings.engine == "spark":
        run_spark_helper(context, settings, "expose", "--raw-dir", str(settings.raw_dir))


def _dbt_target(settings: Settings) -> Path:
    """One target folder per data dir: dbt's partial parse survives between runs (a new folder per
    run would re-parse the whole project every time), and artifacts stay beside the data; the
    first run in a new data dir starts from the parse prepared at set-up."""
    target = settings.data_dir / "dbt_target"
    seed_partial_parse(target)
    return target


def _start_dbt(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: Settings, target: Path, args: list[str]
):
    """Start dbt with its environment (_dbt_env); the process environment is back as it was when
    this returns, before the checks start beside the build."""
    with environment(_dbt_env(settings, launch_env())):
        return dbt.cli(args, context=context, target_path=target)


def _start_checks_beside_build(context: dg.AssetExecutionContext, settings: Settings, suites) -> None:
    """The suites run after the build, in this process: the raw suite (it does not read the build)
    and GX's start-up for the others happen in the background while dbt works."""
    if "raw" in suites:
        raw_audit.start(settings, context.run.run_id)
    elif suites:
        prewarm()


def stream_with_row_counts(context: dg.AssetExecutionContext, build, refresh: Mapping[str, str]):
    """dbt's events as Dagster events, as dbt emits them; each stored model's materialization
    carries the row count dbt logged for it (macros/log_row_count.sql) as `dagster/row_count` (the
    UI's row count) and the run's refresh plan (`salesdw/...`: full or month refresh, the touched
    months). The build's failure is raised at the end, after the models built before it."""
    counts: dict[str, int] = {}
    extra = {f"salesdw/{k}": v for k, v in refresh.items()}
    for raw in build.stream_raw_events():
        if _take_row_count(raw.raw_event, counts):
            continue
        for event in raw.to_default_asset_events(
            manifest=build.manifest,
            dagster_dbt_translator=build.dagster_dbt_translator,
            context=context,
            target_path=build.target_path,
            project=build.project,
        ):
            yield _with_row_count(event, counts.get(_unique_id(raw.raw_event)), extra)
        crash_point("dbt")


ROW_COUNT_LOG = "salesdw row count "


def _take_row_count(raw_event: Mapping[str, Any], counts: dict[str, int]) -> bool:
    """Keep the row count of a `salesdw row count <unique_id> <rows>` line; True if it was one."""
    message = raw_event["info"].get("msg", "")
    if raw_event["info"]["name"] != "JinjaLogInfo" or not message.startswith(ROW_COUNT_LOG):
        return False
    unique_id, rows = message.removeprefix(ROW_COUNT_LOG).split()
    counts[unique_id] = int(rows)  # the last line wins: a post-hook may change the rows again
    return True


def _unique_id(raw_event: Mapping[str, Any]) -> str | None:
    return raw_event["data"].get("node_info", {}).get("unique_id")


def _with_row_count(event, rows: int | None, extra: Mapping[str, str]):
    if rows is None or not isinstance(event, dg.Output):
        return event
    return event.with_metadata({**event.metadata, "dagster/row_count": rows, **extra})


def _vouch_for_build(context: dg.AssetExecutionContext, settings: Settings) -> None:
    """dbt succeeded: on Spark, copy the build into the DuckDB build file (the checks and the publish
    step read it there); then this run vouches for the build."""
    if settings.engine == "spark":
        run_spark_helper(
            context,
            settings,
            "export",
            "--warehouse",
            str(settings.build_warehouse),
            "--export-dir",
            str(settings.spark_dir / "export"),
        )
    private_file(settings.build_warehouse)
    stamp_build(settings, context.run.run_id)


def run_spark_helper(context: dg.AssetExecutionContext, settings: Settings, *args: str) -> None:
    """engines.raw_spark in its own process: Spark's Derby metastore admits one process at a
    time, so it must be closed again before (and after) dbt opens it."""
    proc = subprocess.run(
        [sys.executable, "-m", "engines.raw_spark", *args],
        env={**os.environ, **settings.dbt_env()},
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"engines.raw_spark {args[0]} failed:\n{proc.stderr[-4000:]}")
    context.log.info(proc.stdout.strip())


def mart_keys() -> list[dg.AssetKey]:
    return sorted((k for k in dbt_warehouse.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())
