"""One warehouse-writing run at a time, across processes (CLI, `dagster dev`, schedules).

An exclusive flock on <data>/.run.lock. Re-entrant within a process, so the CLI can hold it for
the whole run while the assets it executes in-process take it again.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_mutex = threading.Lock()


class RunLockBusy(RuntimeError):
    pass


@contextmanager
def run_lock(lock_file: Path, *, wait: bool = False):
    key = str(lock_file)
    with _mutex:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if not reentered:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLockBusy(
                f"another salesdw run is writing this warehouse (pid {holder}, lock {lock_file}); "
                "wait for it to finish and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        with _mutex:
            _held[key] = (fd, 1)
    try:
        yield
    finally:
        with _mutex:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
