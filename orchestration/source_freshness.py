"""dbt source freshness of the raw zone as Dagster asset checks (raw/<entity>:source_freshness).

The thresholds are dbt's: `loaded_at_field` and `freshness` (warn_after / error_after, from the
vars raw_freshness_warn_hours / raw_freshness_error_hours) on the `raw` source in
dbt_project/models/staging/__sources.yml, read from the parsed manifest. The check evaluates them
as `dbt source freshness` does (age of max(loaded_at_field) against now), on the raw zone's Parquet
files through an in-memory DuckDB: `dbt source freshness` itself would start dbt for every run and
need the build warehouse, which the dbt build is writing at the same time. `dbt source freshness`
gives the same answer from the command line (docs: make docs).
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition time.
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb

from ingestion.raw_zone import raw_select
from orchestration.dbt_manifest import manifest_json
from orchestration.policies import RAW_AUDIT_STEP_TAGS
from orchestration.resources import SalesdwResource

CHECK_NAME = "source_freshness"
_PERIOD = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class SourceFreshness:
    """One dbt source table's freshness rule."""

    asset_key: dg.AssetKey
    table: str
    loaded_at_field: str
    warn_after: timedelta | None
    error_after: timedelta | None


def _after(rule: dict | None) -> timedelta | None:
    if not rule or rule.get("count") is None or rule.get("period") is None:
        return None
    return int(rule["count"]) * _PERIOD[rule["period"]]


def freshness_rules(manifest: dict | None = None) -> list[SourceFreshness]:
    """The raw sources that declare a freshness rule in the parsed dbt manifest."""
    manifest = manifest or manifest_json()
    rules = []
    for source in manifest["sources"].values():
        freshness = source.get("freshness") or {}
        if source["source_name"] != "raw" or not source.get("loaded_at_field") or not freshness:
            continue
        key = source["meta"].get("dagster", {}).get("asset_key") or ["raw", source["name"]]
        rules.append(
            SourceFreshness(
                dg.AssetKey(key),
                source["name"],
                source["loaded_at_field"],
                _after(freshness.get("warn_after")),
                _after(freshness.get("error_after")),
            )
        )
    return sorted(rules, key=lambda r: r.table)


def evaluate(rule: SourceFreshness, newest: datetime | None, now: datetime) -> dg.AssetCheckResult:
    """pass / warn / error as dbt source freshness: the age of the newest row against the thresholds."""
    age = None if newest is None else now - newest
    status = "pass"
    if age is None or (rule.error_after and age > rule.error_after):
        status = "error"
    elif rule.warn_after and age > rule.warn_after:
        status = "warn"
    return dg.AssetCheckResult(
        asset_key=rule.asset_key,
        check_name=CHECK_NAME,
        passed=status == "pass",
        severity=dg.AssetCheckSeverity.ERROR if status == "error" else dg.AssetCheckSeverity.WARN,
        metadata={
            "status": status,
            "max_loaded_at": str(newest),
            "age_hours": None if age is None else round(age / timedelta(hours=1), 2),
            "warn_after_hours": rule.warn_after and rule.warn_after / timedelta(hours=1),
            "error_after_hours": rule.error_after and rule.error_after / timedelta(hours=1),
        },
    )


def newest_loads(settings, rules: list[SourceFreshness]) -> dict[str, datetime | None]:
    """max(loaded_at_field) per raw table, from the raw zone's files (batches retired excluded)."""
    if not rules:
        return {}
    # one statement for every table: DuckDB scans the Parquet folders in parallel (half the time);
    # each table's live batches read straight, not through views created first (each binds once)
    query = " union all ".join(
        f"select '{r.table}', max(\"{r.loaded_at_field}\") "
        f"from ({raw_select(settings.raw_dir, settings.quality_dir, r.table)})"
        for r in rules
    )
    with duckdb.connect() as con:
        return dict(con.execute(query).fetchall())


def build_source_freshness_checks() -> list[dg.AssetChecksDefinition]:
    rules = freshness_rules()
    specs = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=r.asset_key,
            blocking=False,
            description=f"dbt source freshness: max({r.loaded_at_field}) younger than "
            f"{r.warn_after} (warn) / {r.error_after} (error); vars "
            "raw_freshness_warn_hours / raw_freshness_error_hours.",
        )
        for r in rules
    ]

    @dg.multi_asset_check(
        name="raw_source_freshness",
        specs=specs,
        can_subset=True,
        op_tags=RAW_AUDIT_STEP_TAGS,
        description="dbt source freshness of the raw zone (_loaded_at)",
    )
    def _source_freshness(context: dg.AssetCheckExecutionContext, salesdw: SalesdwResource):
        selected = {k.asset_key for k in context.selected_asset_check_keys}
        chosen = [r for r in rules if r.asset_key in selected]
        newest = newest_loads(salesdw.settings, chosen)
        now = datetime.now(timezone.utc).replace(tzinfo=None)  # _loaded_at is naive UTC (ingestion/loader.py)
        for rule in chosen:
            yield evaluate(rule, newest[rule.table], now)

    return [_source_freshness]
