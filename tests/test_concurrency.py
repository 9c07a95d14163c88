"""Concurrency: two `salesdw run` at once, and readers of the serving warehouse during runs.

The two simultaneous runs and the reader are part of tests/reliability_scenario.py (they share its
data directory and its runs); the lock contract is also checked on its own, cheaply, below.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from ingestion.ledger import read_ledger
from tests.conftest import salesdw
from tests.reliability_scenario import READER_QUERY, XDIST_GROUP, scenario

EXIT_LOCKED = 4


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, demo_run):
    return scenario(tmp_path_factory, demo_run)


@pytest.mark.slow
@pytest.mark.xdist_group(XDIST_GROUP)
def test_two_runs_started_at_once_one_runs_the_other_exits_with_a_clear_message(outcome):
    final = outcome["final"]
    codes, pids, outputs = final["returncodes"], final["pids"], final["outputs"]
    assert sorted(codes) == [0, EXIT_LOCKED], outputs
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    message = " ".join(outputs[loser].split())  # rich wraps long lines
    assert f"another salesdw run is writing this warehouse (pid {pids[winner]}" in message
    assert "wait for it to finish and run again" in message
    assert "Published" in outputs[winner]
    # The loser wrote nothing: one ledger attempt per landed file, all the winner's or earlier.
    assert len(final["ledger"]) == len(outcome["baseline"]["ledger"])
    assert len(final["publish_log"]) == 1


@pytest.mark.slow
@pytest.mark.xdist_group(XDIST_GROUP)
def test_a_reader_of_the_serving_warehouse_is_never_blocked_nor_shown_a_partial_warehouse(outcome, demo_run):
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        expected = [str(v) for v in con.execute(READER_QUERY).fetchone()]
    polls = outcome["reader"]
    assert len(polls) >= 20  # it polled all through the killed runs and the final pair
    assert [p for p in polls if "error" in p] == []
    # Yesterday's publish and today's hold the same exports, so every poll, through every kill and
    # the swap, sees exactly these totals, never a half-built or missing table.
    assert all(p["fresh"] == expected and p["held"] == expected for p in polls)
    # Not blocked: while each run wrote (ingestion, build, audit, publish), the reader answered
    # polls (a blocked reader answers none until the writer is done).
    for run in [*outcome["steps"], outcome["final"]]:
        before, after = run["reader_polls"]
        assert after - before >= 2, (run.get("crash_at", "final"), run["reader_polls"])
    # It read across the publish: first yesterday's file, then (fresh connections) today's.
    inodes = [p["inode"] for p in polls]
    assert len(set(inodes)) == 2 and inodes == sorted(inodes, key=inodes.index)
    assert inodes[-1] != inodes[0]


HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from orchestration.run_lock import run_lock
    with run_lock(Path(sys.argv[1])):
        open(sys.argv[2], "w").close()
        sys.stdin.read()  # holds the lock until the test closes its stdin
""")
HANG_GUARD = 120  # seconds: only a guard against a hang, never an expected duration


def test_a_run_while_another_process_holds_the_lock_exits_4_and_touches_nothing(tmp_path):
    data_dir = tmp_path / "data"
    teams = data_dir / "landing" / "canonical" / "teams"
    teams.mkdir(parents=True)
    (teams / "t.csv").write_text("team_id\nT1\n")
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir / ".run.lock"), str(ready)], stdin=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not ready.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        # A run that queued behind the holder would wait forever (the holder waits for us): the
        # timeout only turns that hang into a failure.
        run = salesdw("run", data_dir=data_dir, timeout=HANG_GUARD)
        still_holding = holder.poll() is None
    finally:
        holder.stdin.close()
        holder.wait(timeout=HANG_GUARD)
    assert still_holding  # the run gave up while the lock was held: it did not queue behind it
    assert run.returncode == EXIT_LOCKED, run.stdout + run.stderr
    assert f"another salesdw run is writing this warehouse (pid {holder.pid}" in " ".join(run.stdout.split())
    assert read_ledger(data_dir / "quality").empty
    assert not (data_dir / "raw").exists() or not any((data_dir / "raw").iterdir())
    assert not (data_dir / "warehouse" / "build.duckdb").exists()
    assert os.listdir(teams) == ["t.csv"]
