"""Great Expectations in a worker process that a run starts first thing, so GX's import overlaps
the run's start-up and ingestion instead of delaying the first audit.

Importing GX (scipy, altair, pandas) takes about 5 s on this 2-core machine, once per process. In a
background thread it only fought the ingestion for the GIL (measured: no gain), in a process of its
own it runs on the other core. `start()` spawns the worker and imports GX in it; `call()` runs a
suite there and returns its results; without a started worker, `call()` runs in this process (tests,
`dagster dev` step subsets). The worker dies with the process that started it (PR_SET_PDEATHSIG on
Linux), so a killed run never leaves a reader holding the build warehouse open.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1
_pool: ProcessPoolExecutor | None = None
_owner_pid: int | None = None


def start() -> None:
    """Spawn the worker (once per process) and let it import GX while the caller goes on."""
    global _pool, _owner_pid
    if _pool is not None and _owner_pid == os.getpid():
        return
    _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_initialize, initargs=(os.getpid(),))
    _owner_pid = os.getpid()
    _pool.submit(_ready)  # a first task makes the pool spawn the worker now
    atexit.register(stop)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    if _pool is None or _owner_pid != os.getpid():
        return function(*args, **kwargs)
    return _pool.submit(function, *args, **kwargs).result()


def stop() -> None:
    global _pool
    if _pool is not None and _owner_pid == os.getpid():
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool = None


def _initialize(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)  # the parent died before the line above tied us to it
    from orchestration.quality.runner import gx_context

    gx_context()


def _ready() -> bool:
    return True
