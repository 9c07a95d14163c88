"""Ingestion assets: one asset per canonical entity (raw/<entity>), grouped by source system.

One op reads the landing folders once and materializes the selected entities; each gets its own
metadata (files, rows loaded/quarantined, rejected files) and two warning checks that make
rejected files and quarantined rows visible in the UI without blocking the good data.
"""

from functools import partial
from pathlib import Path

import dagster as dg

from ingestion.canonical import ENTITIES
from ingestion.ignored import write_ignored
from ingestion.loader import FileOutcome, IngestResult, ingest
from ingestion.profile import ProfileError, is_profile_name
from ingestion.raw_zone import expose_file
from orchestration.policies import TRANSIENT_RETRY, WAREHOUSE_POOL
from orchestration.quality import CheckResult, results_store
from orchestration.resources import SalesdwResource
from orchestration.run_lock import run_lock

FILES_ACCEPTED = "files_accepted"
ROWS_NOT_QUARANTINED = "rows_not_quarantined"


def raw_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


class IngestConfig(dg.Config):
    """Which exports to read. Default: every <data dir>/landing/<profile>/ folder with its own profile."""

    landing: str | None = None  # one export folder, read with `profile`
    profile: str = "canonical"


def landing_sources(landing_dir: Path, config: IngestConfig) -> list[tuple[Path, str]]:
    if config.landing:
        return [(Path(config.landing).expanduser().resolve(), config.profile)]
    if not landing_dir.is_dir():
        return []
    folders = [f for f in sorted(landing_dir.iterdir()) if f.is_dir() and not f.name.startswith(".")]
    for folder in folders:
        # A folder name selects a built-in profile by name; `x.yml` would be read as a path from the
        # working directory, i.e. a file outside the landing folder chosen by whoever names folders.
        if not is_profile_name(folder.name):
            raise ProfileError(
                f"landing folder {folder}: {folder.name!r} is not a profile name "
                f"(lower_snake_case, e.g. canonical); rename the folder"
            )
    return [(folder, folder.name) for folder in folders]


def _specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            raw_key(name),
            group_name=ent.group,
            description=f"{ent.description} Raw zone: append-only Parquet batches, one per landed file.",
            kinds={"parquet"},
            metadata={"kind": "snapshot" if ent.kind == "S" else "event", "key": ", ".join(ent.key)},
            skippable=True,
        )
        for name, ent in ENTITIES.items()
    ]


def _check_specs() -> list[dg.AssetCheckSpec]:
    specs = []
    for name in ENTITIES:
        specs.append(
            dg.AssetCheckSpec(
                FILES_ACCEPTED,
                asset=raw_key(name),
                description="No landed file was rejected (unreadable, wrong format, missing required column).",
            )
        )
        specs.append(
            dg.AssetCheckSpec(
                ROWS_NOT_QUARANTINED,
                asset=raw_key(name),
                description="No row was quarantined (empty key, unparseable value, broken rule).",
            )
        )
    return specs


@dg.multi_asset(
    name="ingest_exports",
    specs=_specs(),
    check_specs=_check_specs(),
    can_subset=True,
    pool=WAREHOUSE_POOL,
    retry_policy=TRANSIENT_RETRY,
)
def ingest_exports(context: dg.AssetExecutionContext, config: IngestConfig, salesdw: SalesdwResource):
    settings = salesdw.settings
    selected = sorted(key.path[1] for key in context.selected_asset_keys)
    results: list[IngestResult] = []
    with run_lock(settings.lock_file):
        for folder, profile in landing_sources(settings.landing_dir, config):
            context.log.info(f"ingesting {folder} with profile {profile!r}")
            results.append(
                ingest(
                    folder,
                    profile,
                    settings.raw_dir,
                    settings.quality_dir,
                    reporting_currency=settings.reporting_currency,
                    entities=selected,
                    tmp_dir=settings.temp_dir,
                    duckdb_config=settings.duckdb_limits(),
                    parallel_files=settings.ingest_parallel_files,
                    future_date_horizon_days=settings.future_date_horizon_days,
                    read_limits=settings.read_limits(),
                    progress=partial(_log_outcome, context.log),
                )
            )
        # The raw assets as the warehouse sees them: raw.<entity> views over every batch, which
        # the raw quality suite audits and dbt reads as sources.
        expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
        ignored = [i for r in results for i in r.ignored]
        write_ignored(settings.quality_dir, context.run.run_id, ignored)  # `salesdw status` shows the last list
    for item in ignored:
        context.log.warning(f"ignored {item.profile}/{item.file_path}: {item.reason}")
    files = [f for r in results for f in r.files]
    check_rows: list[CheckResult] = []
    for entity in selected:
        materialization, rows = _entity_results(context.run.run_id, entity, [f for f in files if f.entity == entity])
        check_rows += rows
        yield materialization
    results_store.append(settings.quality_dir, check_rows)


def _log_outcome(log, f: FileOutcome) -> None:
    log.info(
        f"{f.status:<14} {f.entity:<26} {f.file_path} read={f.rows_read} "
        f"loaded={f.rows_loaded} quarantined={f.rows_quarantined}" + (f" - {f.error}" if f.error else "")
    )


def _entity_results(
    run_id: str, entity: str, mine: list[FileOutcome]
) -> tuple[dg.MaterializeResult, list[CheckResult]]:
    """One raw asset's materialization with its two checks, and the same checks as results-store rows."""
    rejected = [f for f in mine if f.status == "rejected"]
    loaded = [f for f in mine if f.status == "loaded"]
    quarantined = sum(f.rows_quarantined for f in loaded)
    checks = [
        dg.AssetCheckResult(
            asset_key=raw_key(entity),
            check_name=FILES_ACCEPTED,
            passed=not rejected,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rejected_files": len(rejected),
                "reasons": dg.MetadataValue.md("\n".join(f"- {f.error}" for f in rejected) or "none"),
            },
        ),
        dg.AssetCheckResult(
            asset_key=raw_key(entity),
            check_name=ROWS_NOT_QUARANTINED,
            passed=quarantined == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_quarantined": quarantined},
        ),
    ]
    check_rows = [
        CheckResult.now(
            run_id=run_id,
            layer="raw",
            asset=f"raw/{entity}",
            check_name=FILES_ACCEPTED,
            passed=not rejected,
            severity="warn",
            observed_value=str(len(rejected)),
            details="; ".join(f.error or "" for f in rejected),
        ),
        CheckResult.now(
            run_id=run_id,
            layer="raw",
            asset=f"raw/{entity}",
            check_name=ROWS_NOT_QUARANTINED,
            passed=quarantined == 0,
            severity="warn",
            observed_value=str(quarantined),
            details="",
        ),
    ]
    materialization = dg.MaterializeResult(
        asset_key=raw_key(entity),
        metadata={
            "files_loaded": len(loaded),
            "files_rejected": len(rejected),
            "files_duplicate": sum(f.status == "duplicate_file" for f in mine),
            "rows_loaded": sum(f.rows_loaded for f in loaded),
            "rows_quarantined": quarantined,
            "batches": dg.MetadataValue.md("\n".join(f"- `{f.batch_id}` {f.file_path}" for f in loaded) or "none"),
        },
        check_results=checks,
    )
    return materialization, check_rows
