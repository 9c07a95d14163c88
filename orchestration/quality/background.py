"""Suites run in background threads of the run's process, each handed to its checks step.

The in-process executor runs one step at a time, so the checks steps of a run would run their
suites one after the other while the second core idles. Instead, a suite whose input is ready is
started here, in a thread, and its checks step takes the results (or the error) when it runs:
- the raw suite while dbt builds (orchestration/quality/raw_audit.py);
- the staging and marts suites as soon as the build has succeeded (start_after_build, from the dbt
  step): they run beside each other and beside the steps before their own (raw checks, freshness).

Each suite stores its results itself (runner.run_suite), as it does in its step; the checks steps
sit between the build and the publish, as before, and the publish still reads the results store
(publish.audit_refusal): a suite without results refuses it, wherever it ran.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import date

from orchestration.quality.check_result import CheckResult
from orchestration.settings import Settings

log = logging.getLogger(__name__)

# Suites started after the build; raw starts earlier, during it (raw_audit).
AFTER_THE_BUILD = ("staging", "marts")

_started: dict[tuple[str, str], Future] = {}  # (run id, layer) -> its suite, until its step takes it
_guard = threading.Lock()


def submit(run_id: str, layer: str, suite: Callable[[], list[CheckResult]]) -> Future:
    """Run suite() in a background thread, once per (run, layer); returns its future."""
    from orchestration.quality.gx_startup import settle_environment

    settle_environment()  # before any thread may start GX
    with _guard:
        key = (run_id, layer)
        if key not in _started:
            future: Future = Future()
            _started[key] = future
            threading.Thread(
                target=_run, args=(suite, future), daemon=True, name=f"salesdw-{layer}-suite-{run_id[:8]}"
            ).start()
        return _started[key]


def take(run_id: str, layer: str) -> list[CheckResult] | None:
    """The results of the run's background suite of `layer`, waiting for it to finish; its error
    if it failed (raised here, in the checks step); None when none was started (taken once)."""
    with _guard:
        future = _started.pop((run_id, layer), None)
    return None if future is None else future.result()


def start_after_build(settings: Settings, run_id: str, layers) -> None:
    """Start the staging and marts suites among `layers` on the build warehouse dbt has just left."""
    for layer in (x for x in AFTER_THE_BUILD if x in layers):
        submit(run_id, layer, lambda layer=layer: run_on_build(settings, layer, run_id=run_id))


def run_on_build(settings: Settings, layer: str, *, run_id: str, only: set[tuple[str, str]] | None = None):
    """The suite of `layer` on the build warehouse; row counts compare with the serving warehouse
    once published. only: the (asset, check name) pairs selected in the run (None: the whole suite)."""
    from orchestration.quality import run_suite  # imports GX: only when a suite really runs

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


def _run(suite: Callable[[], list[CheckResult]], future: Future) -> None:
    try:
        results = suite()
    except BaseException as exc:  # handed to the checks step, which fails with it
        log.debug("background suite failed", exc_info=True)
        future.set_exception(exc)
        return
    future.set_result(results)
