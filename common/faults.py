"""Crash injection for the crash-recovery tests: die like a killed process at a named point.

`SALESDW_TEST_CRASH_AT=<point>[:<n>]` makes this process SIGKILL itself (no cleanup, no finally,
no atexit: what the OOM killer, `kill -9` or a power cut does) the n-th time (default: the first)
execution reaches `crash_point(<point>)`. Unset, a crash point costs one dictionary lookup.

Points (each placed where a crash does the most damage):
  ingest   a file's raw batch is written, its quarantine batch and ledger row are not
  dbt      after the n-th node dbt reported (the build warehouse is half rebuilt)
  checks   after the n-th quality suite stored its results (the audit is half done)
  publish  the audited copy is written beside the serving warehouse, not yet swapped in
"""

from __future__ import annotations

import os
import signal

CRASH_AT_ENV = "SALESDW_TEST_CRASH_AT"
CRASH_POINTS = ("ingest", "dbt", "checks", "publish")

_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(CRASH_AT_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
