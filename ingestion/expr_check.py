"""Bind a profile's SQL expressions in a child process under memory and time limits.

DuckDB folds constant sub-expressions while it binds a query, so even `prepare` or a
`limit 0` query runs `length(list_value(range(3000000000)))` (24 GB before the OOM killer).
Binding is still the check that names an unknown function or a type error when the profile is
loaded, so it runs here: in one helper process per Python process (started on first use, reused,
replaced if it dies), with its address space capped (`MAX_BYTES`) and each expression given
`TIMEOUT_SECONDS`. An expression that exhausts either is refused with that reason.

Run as `python -m ingestion.expr_check`: reads one JSON query text per line on stdin, answers
one JSON line per query: null when it binds, else the first line of DuckDB's error.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import selectors
import subprocess
import sys
import threading

MAX_BYTES = 1 << 30  # the helper's address space: DuckDB plus any constant it folds
TIMEOUT_SECONDS = 20.0
_NO_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class _Helper:
    """The child process and its pipes; one query at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ingestion.expr_check"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        return self.proc

    def bind(self, query: str) -> str | None:
        with self.lock:
            proc = self._start()
            try:
                proc.stdin.write(json.dumps(query) + "\n")
                proc.stdin.flush()
                answer = _read_line(proc, TIMEOUT_SECONDS)
            except BrokenPipeError:
                answer = None
            if answer is None:  # killed by its memory cap, or too slow: the expression is at fault
                timed_out = proc.poll() is None
                self.stop()
                return (
                    f"binding it took more than {TIMEOUT_SECONDS:g} s"
                    if timed_out
                    else f"binding it needed more than {MAX_BYTES >> 20:,} MB"
                ) + " (refused: evaluating a huge constant?)"
            return json.loads(answer)

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                pipe.close()
            self.proc = None


def _read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return None
    line = proc.stdout.readline()
    return line or None


_HELPER = _Helper()
atexit.register(_HELPER.stop)


def bind_error(query: str) -> str | None:
    """None when DuckDB binds `query` (run with `limit 0`, so no row is read); else why not."""
    return _HELPER.bind(query)


def stop_helper() -> None:
    """End the helper process (the next bind starts a new one)."""
    _HELPER.stop()


def _serve() -> None:
    import duckdb

    resource.setrlimit(resource.RLIMIT_AS, (MAX_BYTES, MAX_BYTES))
    con = duckdb.connect(config={**_NO_DOWNLOADS, "threads": 1, "memory_limit": "256MB"})
    for line in sys.stdin:
        try:
            con.execute(json.loads(line)).fetchall()
            answer = None
        except duckdb.Error as exc:
            answer = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        except MemoryError:
            answer = f"binding it needed more than {MAX_BYTES >> 20:,} MB (refused: evaluating a huge constant?)"
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
