"""The Dagster code location: every asset, check, job, schedule and sensor of salesdw.

`dagster dev` (make dev), the CLI (`salesdw run`) and the tests all load these definitions, so
there is one code path from landing folder to published warehouse.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import dagster as dg

from ingestion.loader import pending_files
from orchestration.alerts import NEW_FILES_TAG, failure_alert_sensor
from orchestration.assets.ingestion import ingest_exports
from orchestration.assets.serving import postgres_marts, sales_report, sales_warehouse
from orchestration.assets.warehouse import dbt_warehouse, mart_keys
from orchestration.dbt_launcher import LAUNCHER
from orchestration.dbt_manifest import dbt_project
from orchestration.dbt_resource import SalesdwDbtCliResource
from orchestration.policies import LANDING_SENSOR_INTERVAL_SECONDS, MART_FRESHNESS
from orchestration.progress import progress_logger
from orchestration.quality.asset_checks import build_quality_checks
from orchestration.resources import SalesdwResource
from orchestration.settings import get_settings
from orchestration.source_freshness import build_source_freshness_checks

# The whole graph: ingest -> dbt build (+ dbt tests) -> GX suites -> publish -> report/PostgreSQL.
full_refresh = dg.define_asset_job(
    "full_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest every landing folder, build and test the warehouse, audit it, publish it.",
)


def daily_schedule(settings) -> dg.ScheduleDefinition:
    """The daily full refresh at Settings.schedule_cron in Settings.schedule_timezone (policies.py)."""
    try:
        return dg.ScheduleDefinition(
            name="daily_full_refresh",
            job=full_refresh,
            cron_schedule=settings.schedule_cron,
            execution_timezone=settings.schedule_timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"The full refresh every morning, before the sales managers' day starts "
            f"({settings.schedule_cron}, {settings.schedule_timezone}).",
        )
    except dg.DagsterInvalidDefinitionError as error:
        raise ValueError(
            f"SALESDW_SCHEDULE_CRON={settings.schedule_cron!r} / SALESDW_SCHEDULE_TIMEZONE="
            f"{settings.schedule_timezone!r}: expected a 5-field cron expression and an IANA "
            f"time zone name such as Asia/Shanghai ({error})"
        ) from error


daily_full_refresh = daily_schedule(get_settings())


@dg.sensor(
    job=full_refresh,
    minimum_interval_seconds=LANDING_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a full refresh when files land that the ledger has not seen (by content hash).",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext):
    settings = get_settings()
    new_files: list[str] = []
    if settings.landing_dir.is_dir():
        for folder in sorted(p for p in settings.landing_dir.iterdir() if p.is_dir()):
            new_files += [str(p) for p in pending_files(folder, folder.name, settings.quality_dir)]
    if not new_files:
        return dg.SkipReason("no new files in the landing folders")
    # One run per distinct set of new files (path, size, mtime): a repeated tick is a no-op.
    fingerprint = "\n".join(f"{p}|{Path(p).stat().st_size}|{Path(p).stat().st_mtime_ns}" for p in sorted(new_files))
    run_key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    context.update_cursor(run_key)
    return dg.RunRequest(
        run_key=run_key,
        tags={"salesdw/new_files": str(len(new_files)), NEW_FILES_TAG: file_names_tag(new_files, settings.landing_dir)},
    )


def file_names_tag(paths: list[str], landing_dir: Path, limit: int = 500) -> str:
    """The new files, relative to the landing folder, as one tag value of at most `limit`
    characters: the run's page in the UI (and a failure alert) says which files started it."""
    names = [str(Path(p).relative_to(landing_dir)) if Path(p).is_relative_to(landing_dir) else p for p in sorted(paths)]
    value = ""
    for i, name in enumerate(names):
        more = f" (+{len(names) - i} more)"
        candidate = f"{value}, {name}" if value else name
        if len(candidate) + (len(more) if i < len(names) - 1 else 0) > limit:
            return (value + more) if value else more.strip()
        value = candidate
    return value


# Freshness as asset checks the UI shows per mart. (Dagster 1.13 marks this builder superseded by
# FreshnessPolicy, which evaluates in the daemon only; the checks also run in CLI runs.)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    mart_freshness_checks = dg.build_last_update_freshness_checks(assets=mart_keys(), lower_bound_delta=MART_FRESHNESS)

defs = dg.Definitions(
    assets=[ingest_exports, dbt_warehouse, sales_warehouse, sales_report, postgres_marts],
    asset_checks=[
        *build_quality_checks("raw"),
        *build_quality_checks("staging"),
        *build_quality_checks("marts"),
        *mart_freshness_checks,
        *build_source_freshness_checks(),
    ],
    jobs=[full_refresh],
    schedules=[daily_full_refresh],
    sensors=[landing_folder_sensor, failure_alert_sensor],
    resources={
        "salesdw": SalesdwResource(),
        # dbt from this environment, whatever PATH the scheduler or the CLI was started with, through
        # a launcher that ends dbt when the run dies (orchestration/dbt_launcher.py); no per-run
        # version probe or in-process adapter (orchestration/dbt_resource.py)
        "dbt": SalesdwDbtCliResource(
            project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir), dbt_executable=LAUNCHER
        ),
    },
    loggers={"console": progress_logger()},
    # One process, one writer: the multiprocess executor costs seconds per step and DuckDB
    # allows a single writer anyway.
    executor=dg.in_process_executor,
)
