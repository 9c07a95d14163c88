"""One warehouse-writing run at a time, across processes (CLI, `dagster dev`, schedules).

An exclusive flock on <data>/.run.lock. Re-entrant within a process, so the CLI can hold it for
the whole run while the assets it executes in-process take it again.

The file holds the holder's pid, written just after the flock is taken and cleared just before it
is released. A run refused in between reads an empty file, or a pid left by a killed run, so it
waits briefly for a living pid before it names the holder.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

_held: dict[str, tuple[int, int]] = {}  # lock path -> (fd, depth)
_mutex = threading.Lock()
HOLDER_WAIT = 2.0  # seconds a refused run waits for the holder to write its pid


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
            holder = _holder(fd)
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
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _holder(fd: int) -> str:
    """The pid in the lock file once it names a living process, else "unknown"."""
    deadline = time.monotonic() + HOLDER_WAIT
    while True:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        if text.isdigit() and _alive(int(text)):
            return text
        if time.monotonic() >= deadline:
            return "unknown"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive, just not ours to signal
    return True
