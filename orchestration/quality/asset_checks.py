"""The expectation suites as Dagster asset checks: one multi-asset check per layer.

Specs are declared up front from the suites (suites.load_suite), so the Dagster UI lists every
check before it ever runs; an `error` check is blocking (a failure stops downstream assets and the
publish), a `warn` check is not.

    from orchestration.quality.asset_checks import build_quality_checks
    dg.Definitions(asset_checks=[*build_quality_checks("raw"), ...],
                   resources={"salesdw": SalesdwResource(data_dir=...)})
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition time.
from datetime import date

import dagster as dg

from orchestration.quality.suites import load_suite
from orchestration.resources import SalesdwResource
from orchestration.settings import Settings

_SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def build_quality_checks(layer: str) -> list[dg.AssetChecksDefinition]:
    checks = load_suite(layer)
    specs = [
        dg.AssetCheckSpec(name=c.name, asset=dg.AssetKey(c.asset_key_path), blocking=c.blocking,
                          description=c.why)
        for c in checks
    ]

    @dg.multi_asset_check(name=f"{layer}_quality_checks", specs=specs,
                          description=f"Great Expectations suite of the {layer} layer "
                                      f"(orchestration/quality/suites/{layer}.yml)")
    def _quality_checks(context: dg.AssetCheckExecutionContext, salesdw: SalesdwResource):
        for result in audit(salesdw.settings, layer, run_id=context.run.run_id):
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(result.asset_key_path),
                check_name=result.check_name,
                passed=result.passed,
                severity=_SEVERITY[result.severity],
                metadata={"observed_value": result.observed_value, "details": result.details},
            )

    return [_quality_checks]


def audit(settings: Settings, layer: str, *, run_id: str):
    """Audit the build warehouse; row counts compare with the serving warehouse once published."""
    from orchestration.quality import run_suite  # imports GX: only when a suite really runs

    serving = settings.serving_warehouse
    return run_suite(layer, settings.build_warehouse, run_id=run_id, quality_dir=settings.quality_dir,
                     as_of_date=date.fromisoformat(settings.as_of_date) if settings.as_of_date else None,
                     previous_warehouse=serving if serving.exists() else None,
                     duckdb_limits=settings.duckdb_limits())
