"""Data quality: Great Expectations suites per layer, run in the warehouse as Dagster asset checks.

    from orchestration.quality import run_suite, CheckResult, results_store
    from orchestration.quality.report import write_quality_report    # the HTML page over the store
    from orchestration.quality.asset_checks import build_quality_checks   # Dagster definitions

Great Expectations is imported only when a suite runs (its import alone takes seconds), so the
results store, the report and the Dagster definitions load fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from orchestration.quality import results_store
from orchestration.quality.check_result import CheckResult


def run_suite(
    layer: str,
    warehouse: Path,
    *,
    run_id: str,
    quality_dir: Path,
    as_of_date: date | None = None,
    previous_warehouse: Path | None = None,
    duckdb_limits: dict | None = None,
    only: set[tuple[str, str]] | None = None,
) -> list[CheckResult]:
    """Run every expectation of `layer` ("raw", "staging", "marts") on `warehouse` (opened
    read-only for the duration, within duckdb_limits), append the results to the store, and
    return them. only: just these (asset, check name) pairs (a subset selected in the UI)."""
    from orchestration.quality.runner import run_suite as _run_suite

    return _run_suite(
        layer,
        warehouse,
        run_id=run_id,
        quality_dir=quality_dir,
        as_of_date=as_of_date,
        previous_warehouse=previous_warehouse,
        duckdb_limits=duckdb_limits,
        only=only,
    )


def prewarm():
    """Start Great Expectations (import and context) in a background thread of this process, for
    the suites that run later in it (gx_startup.prewarm)."""
    from orchestration.quality.gx_startup import prewarm as _prewarm

    return _prewarm()


__all__ = ["CheckResult", "prewarm", "results_store", "run_suite"]
