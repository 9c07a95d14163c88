"""Run the Dagster job in process for the CLI, and read back what happened.

The CLI does not reimplement the pipeline: it executes the same `full_refresh` job that the
schedule and the sensor start, on a persistent Dagster instance under <data dir>/dagster (so the
runs show up in `dagster dev`), then summarises the run from the ledger, the results store and
the published warehouse.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.instance_config import install_instance_yaml
from orchestration.progress import check_observation, step_failure_cause
from orchestration.settings import Settings

POSTGRES_STEP = "serving__postgres_marts"


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    started_at: datetime
    failed_steps: list[str] = field(default_factory=list)
    failure_messages: list[str] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)
    failed_checks: list[tuple[str, str, str]] = field(default_factory=list)  # asset, check, severity
    check_observations: dict[tuple[str, str], str] = field(default_factory=dict)  # (asset, check): what it saw
    checks_passed: int = 0
    ledger: pd.DataFrame | None = None  # this run's ledger rows
    published: bool = False
    postgres_failure: str | None = None  # the one-line cause when the PostgreSQL copy failed

    @property
    def other_failed_steps(self) -> list[str]:
        """Failed steps but the PostgreSQL copy (which fails after the DuckDB publish)."""
        return [s for s in self.failed_steps if s != POSTGRES_STEP]

    @property
    def rows_quarantined(self) -> int:
        if self.ledger is None or self.ledger.empty:
            return 0
        return int(self.ledger.rows_quarantined.fillna(0).sum())

    @property
    def rejected_files(self) -> list[tuple[str, str]]:
        if self.ledger is None or self.ledger.empty:
            return []
        rejected = self.ledger[self.ledger.status == "rejected"]
        return list(zip(rejected.file_path, rejected.error))

    @property
    def blocking_failures(self) -> list[tuple[str, str, str]]:
        return [c for c in self.failed_checks if c[2] == "ERROR"]


def prepare_environment(settings: Settings) -> None:
    """Point every component at this data dir: the resources, the dbt profile, the Dagster instance."""
    settings.ensure_dirs()
    os.environ["SALESDW_DATA_DIR"] = str(settings.data_dir)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    os.environ.update(settings.dbt_env())
    install_instance_yaml(settings.dagster_home)  # never over an operator's edit


def relax_run_history_fsync(instance) -> None:
    """Let SQLite skip fsync on this run's writes to the instance's run history, when it is the
    pooled SQLite event log of dagster.yaml (PooledSqliteEventLogStorage.skip_fsync says why and
    what it risks); PostgreSQL or any other storage is left as configured."""
    from orchestration.run_history import PooledSqliteEventLogStorage

    storage = instance.event_log_storage
    if isinstance(storage, PooledSqliteEventLogStorage):
        storage.skip_fsync()


def run_pipeline(
    settings: Settings, *, landing: Path | None = None, profile: str = "canonical", asset_selection: list | None = None
) -> RunOutcome:
    import dagster as dg

    from ingestion.ledger import read_ledger
    from orchestration.definitions import defs
    from orchestration.publish import discard_prepared

    prepare_environment(settings)
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)  # the ledger is in UTC
    ingest_config = {"profile": profile}
    if landing is not None:
        ingest_config["landing"] = str(Path(landing).resolve())
    job = defs.resolve_job_def("full_refresh")
    # dagster-dbt echoes every dbt log line to stdout: keep those in a file, the console gets the
    # compact progress lines (orchestration/progress.py, on stderr) and the summary.
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with (
        dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance,
        open(settings.logs_dir / "last_run.log", "w") as run_log,
        contextlib.redirect_stdout(run_log),
    ):
        relax_run_history_fsync(instance)
        result = job.execute_in_process(
            run_config={
                "ops": {"ingest_exports": {"config": ingest_config}},
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
            },
            instance=instance,
            raise_on_error=False,
            asset_selection=asset_selection,
            tags={"salesdw/trigger": "cli"},
        )
        discard_prepared(settings, result.run_id)  # a copy its publish did not take (skipped, refused)
        outcome = RunOutcome(run_id=result.run_id, success=result.success, started_at=started_at)
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                outcome.failed_steps.append(event.step_key)
                cause = step_failure_cause(event)
                outcome.failure_messages.append(f"{event.step_key}: {cause}")
                if event.step_key == POSTGRES_STEP:
                    outcome.postgres_failure = cause
            elif event.event_type_value == "STEP_SKIPPED":
                outcome.skipped_steps.append(event.step_key)
        for evaluation in result.get_asset_check_evaluations():
            if evaluation.passed:
                outcome.checks_passed += 1
            else:
                asset = evaluation.asset_key.to_user_string()
                outcome.failed_checks.append(
                    (asset, evaluation.check_name, str(getattr(evaluation.severity, "value", evaluation.severity)))
                )
                outcome.check_observations[(asset, evaluation.check_name)] = check_observation(evaluation)
        outcome.published = any(
            event.asset_key is not None and event.asset_key.path == ["serving", "sales_warehouse"]
            for event in result.get_asset_materialization_events()
        )
    ledger = read_ledger(settings.quality_dir)
    if not ledger.empty:
        ledger = ledger[pd.to_datetime(ledger.started_at) >= pd.Timestamp(started_at)]
    outcome.ledger = ledger
    return outcome


def warehouse_counts(
    warehouse: Path, settings: Settings | None = None, schemas: tuple[str, ...] = ("raw", "staging", "marts", "quality")
) -> dict[str, dict[str, int]]:
    """Rows per table per schema of a warehouse file, for the given schemas (read-only, closed on
    return). Counting a raw or staging view reads every raw row (a staging view runs its
    latest-version window), so with settings the engine keeps to the configured memory limit and
    spills to the temp dir like every other step; and a caller counts only the schemas it shows."""
    counts: dict[str, dict[str, int]] = {}
    if not warehouse.exists():
        return counts
    limits = {} if settings is None else settings.duckdb_limits()
    with duckdb.connect(str(warehouse), read_only=True, config=limits) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where list_contains(?, table_schema) order by 1, 2",
            [list(schemas)],
        ).fetchall()
        for schema, table in tables:
            counts.setdefault(schema, {})[table] = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[
                0
            ]
    return counts
