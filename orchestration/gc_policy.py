"""Python's cyclic garbage collector in a process that runs one pipeline and exits (`salesdw run`).

A run imports Dagster, dagster-dbt, dbt and Great Expectations: over a million objects (modules,
classes, pydantic models) that live until the process exits. Every full collection rescans all of
them: at scale 10 the collector took 1.0-1.1 s of the run in eight full collections (measured with
`gc.callbacks`), two of them during Great Expectations' import, which then took ~2 s instead of
~1.1 s. Inside `long_lived_imports()` nothing is collected, and afterwards everything alive is
moved by `gc.freeze()` to the permanent generation, which no collection scans again; the objects
created by the run itself are collected as usual.

Frozen objects are never freed, so this is for a process that does one run and exits, and only
where it says so (`enable_for_this_process`, called by the CLI). Elsewhere (the Dagster code
server and daemon, pytest workers, a notebook) `long_lived_imports()` does nothing: freezing there
could keep a dropped DuckDB connection, and its lock on the warehouse file, alive for good.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_one_run_process = False


def enable_for_this_process() -> None:
    """This process runs one pipeline and exits: let `long_lived_imports` freeze what it loads."""
    global _one_run_process
    _one_run_process = True


def is_enabled() -> bool:
    return _one_run_process


@contextlib.contextmanager
def long_lived_imports() -> Iterator[None]:
    """Import (or build) inside this block what lives as long as the process: no collection runs
    during the block, and none of the objects alive at its end is scanned again (when enabled)."""
    if not _one_run_process:
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()
