"""The expectation suites as Dagster asset checks: one multi-asset check per layer.

Specs are declared up front from the suites (suites.load_suite), so the Dagster UI lists every
check before it ever runs. A failed `error` check refuses the publish (publish.py reads the results
store), a `warn` check does not. The staging and marts checks are also blocking in Dagster's sense:
a failure stops the assets downstream of the checked table in the same run. The raw layer is
audited after the dbt build instead of before it (AUDITED_AFTER_THE_BUILD): blocking there would
make the build wait for the raw suite and Great Expectations' start-up (~2 s of every run), which
otherwise run in the background during the build (orchestration/quality/raw_audit.py); and the
build only writes the build warehouse, which no reader sees unless the audit passes.

    from orchestration.quality.asset_checks import build_quality_checks
    dg.Definitions(asset_checks=[*build_quality_checks("raw"), ...],
                   resources={"salesdw": SalesdwResource(data_dir=...)})
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition time.
from datetime import date

import dagster as dg

from orchestration.policies import RAW_AUDIT_STEP_TAGS
from orchestration.quality import raw_audit
from orchestration.quality.suites import LAYERS, load_suite
from orchestration.resources import SalesdwResource
from orchestration.settings import Settings

_SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}

# Layers whose suite runs after the dbt build (step order: orchestration/policies.py); their
# `error` checks block the publish only.
AUDITED_AFTER_THE_BUILD = {"raw": RAW_AUDIT_STEP_TAGS}


def build_quality_checks(layer: str) -> list[dg.AssetChecksDefinition]:
    checks = load_suite(layer)
    after_the_build = layer in AUDITED_AFTER_THE_BUILD
    specs = [
        dg.AssetCheckSpec(
            name=c.name,
            asset=dg.AssetKey(c.asset_key_path),
            blocking=c.blocking and not after_the_build,
            description=c.why + (" Blocks the publish." if c.blocking and after_the_build else ""),
        )
        for c in checks
    ]

    # Subsettable: a run of one mart (or one entity, or a mart and its upstream) selected in the UI
    # plans the checks of those assets only, and only those run.
    @dg.multi_asset_check(
        name=f"{layer}_quality_checks",
        specs=specs,
        op_tags=AUDITED_AFTER_THE_BUILD.get(layer),
        can_subset=True,
        description=f"Great Expectations suite of the {layer} layer (orchestration/quality/suites/{layer}.yml)",
    )
    def _quality_checks(context: dg.AssetCheckExecutionContext, salesdw: SalesdwResource):
        selected = {(k.asset_key.to_user_string(), k.name) for k in context.selected_asset_check_keys}
        only = None if len(selected) == len(specs) else selected
        results = audit(salesdw.settings, layer, run_id=context.run.run_id, only=only)
        for result in results:
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(result.asset_key_path),
                check_name=result.check_name,
                passed=result.passed,
                severity=_SEVERITY[result.severity],
                metadata={"observed_value": result.observed_value, "details": result.details},
            )
        failed = [f"{r.asset}:{r.check_name}" for r in results if r.blocking]
        if after_the_build and failed:
            # The step fails as a blocking check's step does: a re-execution of the run from
            # failure then runs this suite again instead of publishing without it.
            raise dg.Failure(description=f"blocking checks failed: {', '.join(failed)}")

    return [_quality_checks]


def audit(settings: Settings, layer: str, *, run_id: str, only: set[tuple[str, str]] | None = None):
    """Audit the build warehouse; row counts compare with the serving warehouse once published.
    only: the (asset, check name) pairs selected in the run (None: the whole suite)."""
    from orchestration.quality import run_suite  # imports GX: only when a suite really runs

    if layer == "raw":
        started_during_the_build = raw_audit.take(run_id)
        if started_during_the_build is not None:
            return [r for r in started_during_the_build if only is None or (r.asset, r.check_name) in only]
    serving = settings.serving_warehouse
    return run_suite(
        layer,
        settings.build_warehouse,
        run_id=run_id,
        quality_dir=settings.quality_dir,
        as_of_date=date.fromisoformat(settings.as_of_date) if settings.as_of_date else None,
        previous_warehouse=serving if serving.exists() else None,
        duckdb_limits=settings.duckdb_limits(),
        only=only,
    )


def planned_suites(steps: set[str]) -> list[str]:
    """The layers whose suite is among a run's planned step keys (not every run plans every suite:
    a run of a few assets selected in the UI plans the checks of those assets only)."""
    return [layer for layer in LAYERS if f"{layer}_quality_checks" in steps]
