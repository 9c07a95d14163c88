"""Great Expectations start-up: the process's one ephemeral GX context, created once (GX's import
and start-up are slow) and, for the dbt step, started early in a background thread (prewarm)."""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import cache

log = logging.getLogger(__name__)

_context_lock = threading.Lock()


def gx_context():
    """The process's ephemeral GX context (GX's import and start-up are slow: done once, by the
    first caller; a caller that comes while prewarm() is at it waits for the same context)."""
    with _context_lock:
        return _create_context()


@cache
def prewarm() -> threading.Thread:
    """Start GX (import and context) in a background thread, once per process, so that a suite
    that runs later in this process finds it ready. The dbt step calls this: dbt works in its own
    process, and the GX start-up (~1 s) fits in the time this one spends waiting for it. An error
    here is not lost: the suite's own gx_context() call raises it again."""
    settle_environment()
    thread = threading.Thread(target=_prewarm, name="salesdw-gx-prewarm", daemon=True)
    thread.start()
    return thread


def settle_environment() -> None:
    """Write what GX's start-up would write into os.environ (gx_duckdb: no usage statistics), in
    the calling thread, before GX starts in another: setenv while another thread reads the
    environment (DuckDB, the C library's time zone code) is not thread-safe."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _prewarm() -> None:
    try:
        gx_context()
    except Exception:  # raised again, with its traceback, when a suite asks for the context
        log.debug("GX prewarm failed", exc_info=True)


@cache
def _create_context():
    from orchestration import gc_policy

    started = time.perf_counter()
    with gc_policy.long_lived_imports():  # GX's classes and the context live as long as the process
        from orchestration.quality import gx_duckdb  # sets GX_ANALYTICS_ENABLED=false before GX loads

        gx_duckdb.apply()
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)  # per-batch INFO chatter
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    log.info("GX context ready in %.1f s", time.perf_counter() - started)
    return context
