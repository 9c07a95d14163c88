"""Run a command and measure it: wall time, CPU time, peak memory, machine load.

Peak memory is measured two ways, because the pipeline is several processes (the CLI, dbt):
- peak_tree_rss: the largest sum of resident memory over the whole process tree, sampled from
  /proc every 0.1 s (what the machine must hold at once);
- peak_process_rss: the kernel's exact high-water mark of the largest single process of the tree
  (os.wait4's ru_maxrss, which covers every descendant the command waited for).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SAMPLE_SECONDS = 0.1


@dataclass
class Measured:
    command: list[str]
    returncode: int
    seconds: float
    cpu_seconds: float  # user + system of the whole tree
    peak_tree_rss: int  # bytes
    peak_process_rss: int  # bytes
    load_before: float  # 1-minute load average
    load_after: float
    stopped: str | None = None  # "memory" / "timeout" when the run was killed
    log: str = ""  # where stdout and stderr went
    samples: list[tuple[float, int]] = field(default_factory=list, repr=False)  # (epoch s, tree RSS bytes)

    def peak_between(self, start: float, end: float) -> int:
        """Peak tree RSS sampled in [start, end] (epoch seconds)."""
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.stopped is None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "samples"}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the process ended meanwhile
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants now."""
    tree, total, todo = _children(), 0, [root]
    while todo:
        pid = todo.pop()
        todo += tree.get(pid, [])
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except OSError:
            continue
    return total


def run_measured(
    command: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
    memory_limit: int | None = None,
) -> Measured:
    """Run `command` to completion (or until it passes timeout seconds / memory_limit bytes of tree
    RSS, when it is killed), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    peak, stopped, samples = 0, None, []
    with open(log, "wb") as out:
        # own session, so a stopped run can be ended with all its children (and only those)
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = tree_rss(proc.pid)
            samples.append((time.time(), rss))
            peak = max(peak, rss)
            elapsed = time.perf_counter() - started
            if stopped is None and memory_limit is not None and peak > memory_limit:
                stopped = "memory"
            elif stopped is None and timeout is not None and elapsed > timeout:
                stopped = "timeout"
            if stopped:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(_SAMPLE_SECONDS)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    seconds = time.perf_counter() - started
    return Measured(
        command=[str(c) for c in command],
        returncode=proc.returncode,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_tree_rss=peak,
        peak_process_rss=usage.ru_maxrss * 1024,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        stopped=stopped,
        log=str(log),
        samples=samples,
    )
