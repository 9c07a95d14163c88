"""Serving assets: publish after the audit, then the report and the optional PostgreSQL copy."""

import dagster as dg

from orchestration import run_status
from orchestration.assets.warehouse import mart_keys
from orchestration.policies import TRANSIENT_RETRY, WAREHOUSE_POOL
from orchestration.publish import PublishRefused, built_by, publish
from orchestration.quality.report import write_quality_report
from orchestration.resources import SalesdwResource
from orchestration.run_lock import run_lock
from orchestration.serving.postgres import PublishError, publish_to_postgres
from orchestration.serving.report import write_reports

SERVING_WAREHOUSE = dg.AssetKey(["serving", "sales_warehouse"])


@dg.asset(
    key=SERVING_WAREHOUSE,
    deps=mart_keys(),
    group_name="serving",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="The published warehouse (data/warehouse/sales.duckdb) that analysts and BI tools read. "
    "Swapped in atomically, and only when every suite (raw, staging, marts) has reported on the build "
    "warehouse, for the run that built it, and no blocking check failed (write-audit-publish); a "
    "refusal is recorded as an observation of this asset.",
)
def sales_warehouse(context: dg.AssetExecutionContext, salesdw: SalesdwResource):
    settings = salesdw.settings
    # a re-execution (from failure) of the run that built the warehouse audits the same build
    lineage = [r for r in (context.run.parent_run_id, context.run.root_run_id) if r]
    with run_lock(settings.lock_file):
        try:
            record = publish(settings, context.run.run_id, lineage)
        except PublishRefused as refused:
            # yielded, not logged: a step's logged events are dropped when it then fails
            yield _refusal(settings, str(refused))
            run_status.record(settings, context.run.run_id, "publish_refused", str(refused))
            write_quality_report(settings.quality_dir, settings.reports_dir)  # what the refusal was about
            raise
    run_status.record(settings, context.run.run_id, "published", record.warehouse)
    yield dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(record.warehouse),
            "bytes": record.bytes,
            "mart_rows": dg.MetadataValue.json(record.mart_rows),
        }
    )


def _refusal(settings, reason: str) -> dg.AssetObservation:
    """The refusal on the asset: the UI shows it in the asset's history."""
    return dg.AssetObservation(
        asset_key=SERVING_WAREHOUSE,
        metadata={
            "publish_refused": dg.MetadataValue.text(reason),
            "build_run_id": dg.MetadataValue.text(built_by(settings) or "none"),
        },
    )


@dg.asset(
    key=["serving", "sales_report"],
    deps=[SERVING_WAREHOUSE],
    group_name="serving",
    kinds={"html"},
    description="The sales manager's report (English and Chinese) and the data-quality report, "
    "self-contained HTML under data/reports/.",
)
def sales_report(context: dg.AssetExecutionContext, salesdw: SalesdwResource) -> dg.MaterializeResult:
    settings = salesdw.settings
    pages = write_reports(settings.serving_warehouse, settings.reports_dir, langs=("en", "zh"))
    pages.append(write_quality_report(settings.quality_dir, settings.reports_dir))
    return dg.MaterializeResult(metadata={p.name: dg.MetadataValue.path(str(p)) for p in pages})


@dg.asset(
    key=["serving", "postgres_marts"],
    deps=[SERVING_WAREHOUSE],
    group_name="serving",
    kinds={"postgres"},
    retry_policy=TRANSIENT_RETRY,
    output_required=False,
    description="The marts and quality tables copied into PostgreSQL for BI tools (schema swap in one "
    "transaction; read-only role salesdw_reader). Runs only when SALESDW_POSTGRES_URL is set.",
)
def postgres_marts(context: dg.AssetExecutionContext, salesdw: SalesdwResource):
    settings = salesdw.settings
    if not settings.postgres_url:
        context.log.info("SALESDW_POSTGRES_URL is not set: PostgreSQL publish skipped")
        return
    try:
        summary = publish_to_postgres(settings.serving_warehouse, settings.postgres_url)
    except PublishError as exc:
        run_status.record(settings, context.run.run_id, "postgres_failed", str(exc).strip().splitlines()[0])
        raise
    yield dg.MaterializeResult(metadata={"summary": dg.MetadataValue.text(str(summary))})
