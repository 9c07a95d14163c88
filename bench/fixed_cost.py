"""The fixed cost of a run: `salesdw run` again on a data dir that has had its run, split into parts.

    .venv/bin/python -m bench.fixed_cost DATA_DIR [--rounds 3]

DATA_DIR must hold a finished run (e.g. after `salesdw demo --scale 1 --data-dir DATA_DIR`).
Whatever is landed there runs again: nothing new, or the files added since. One line per run:

- start: process start -> first step (imports, Dagster instance, run creation, planned events);
- ingest, checks, publish, report: step times (bench/stages.py);
- dbt step, split with dbt's own JSON log (`<data>/dbt_target/dbt.log`, rotated into dbt.log.1):
  pre = step start -> dbt's first log line (raw views, dbt's process and imports),
  setup = dbt's first line -> its first node (load the partial parse, write the manifest, ...),
  nodes = first node start -> last node end, wrap = -> dbt's last line (artifacts),
  post = dbt's last line -> step end (the held events, row counts);
- end: last step end -> process exit (summary);
- the 1-minute load average when the run started (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.stages import read_stages
from orchestration import exit_codes

NODE_EVENTS = ("NodeStart", "NodeFinished")


def dbt_log_times(target: Path) -> dict[str, float]:
    """Epoch seconds of the last dbt invocation: its first and last lines, first node start, last node end."""
    entries = []
    for name in ("dbt.log.1", "dbt.log"):
        path = target / name
        if path.exists():
            entries += [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    if not entries:
        return {}
    invocation = entries[-1]["info"]["invocation_id"]
    mine = [e["info"] for e in entries if e["info"].get("invocation_id") == invocation]

    def ts(info) -> float:
        return datetime.fromisoformat(info["ts"].replace("Z", "+00:00")).timestamp()

    nodes = [ts(i) for i in mine if i["name"] in NODE_EVENTS]
    return {
        "first": ts(mine[0]),
        "last": ts(mine[-1]),
        "first_node": min(nodes, default=ts(mine[-1])),
        "last_node": max(nodes, default=ts(mine[-1])),
    }


def split_run(data_dir: Path, started: float, ended: float) -> dict[str, float]:
    """The parts of one finished run (see the module doc), in seconds."""
    run = read_stages(data_dir)
    parts = {"total": ended - started}
    windows = run.windows.values()
    parts["start"] = min(a for a, _ in windows) - started
    parts.update({k: v for k, v in run.stages.items() if k != "dbt build"})
    step = run.windows.get("dbt_warehouse")
    dbt = dbt_log_times(Path(data_dir) / "dbt_target")
    if step and dbt:
        parts.update(
            dbt_pre=dbt["first"] - step[0],
            dbt_setup=dbt["first_node"] - dbt["first"],
            dbt_nodes=dbt["last_node"] - dbt["first_node"],
            dbt_wrap=dbt["last"] - dbt["last_node"],
            dbt_post=step[1] - dbt["last"],
        )
    parts["end"] = ended - max(b for _, b in windows)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    salesdw = Path(sys.executable).parent / "salesdw"
    for round_ in range(1, args.rounds + 1):
        load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        started = time.time()
        proc = subprocess.run([str(salesdw), "run", "--data-dir", str(args.data_dir)], capture_output=True, text=True)
        ended = time.time()
        if proc.returncode in (exit_codes.FAILED, exit_codes.LOCKED):  # the others published
            sys.exit(f"salesdw run exited {proc.returncode}:\n{proc.stdout[-2000:]}")
        parts = split_run(args.data_dir, started, ended)
        print(
            f"round={round_} " + " ".join(f"{k.replace(' ', '_')}={v:.1f}" for k, v in parts.items()) + f" load={load}"
        )


if __name__ == "__main__":
    main()
