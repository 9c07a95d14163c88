"""The warm dbt (orchestration/dbt_launcher.py: `warm_dbt`, `serve`, `hand_over`): a dbt imported
ahead of time runs the launcher's command as if the launcher had started it, and lives no longer
than its run or its launcher.

Every test runs real processes: the launcher, a warm dbt, and dbt itself on a tiny project (one
macro, DuckDB in memory) whose output shows which environment and folder dbt ran with.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from orchestration.dbt_launcher import (
    DBT_CWD_ENV,
    LAUNCHER,
    WARM_ENV,
    WARM_START_ENV,
    launch_env,
    same_user_peer,
    warm_dbt,
)

MACROS = """
{% macro show() %}
  {% set launcher = env_var("WARM_PROBE_LAUNCHER", "unset") %}
  {{ print("launcher=" ~ launcher ~ " server=" ~ env_var("WARM_PROBE_SERVER", "unset")) }}
{% endmacro %}
{% macro fail() %}
  {{ exceptions.raise_compiler_error("failed on purpose") }}
{% endmacro %}
{% macro spin() %}
  {% do run_query("select sum(a.range * b.range) from range(1000000) a, range(1000000) b") %}
{% endmacro %}
"""


@pytest.fixture
def project(tmp_path) -> Path:
    """A dbt project dbt finds only by the folder it runs in (no --project-dir)."""
    folder = tmp_path / "probe"
    (folder / "macros").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text("name: probe\nversion: '1.0'\nconfig-version: 2\nprofile: probe\n")
    (folder / "profiles.yml").write_text(
        "probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ':memory:'\n"
    )
    (folder / "macros" / "probe.sql").write_text(MACROS)
    return folder


def _launcher_env(project: Path, warm: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (WARM_ENV, "WARM_PROBE_SERVER")}
    env.update(launch_env())
    env.update({DBT_CWD_ENV: str(project), "DBT_PROFILES_DIR": str(project), "WARM_PROBE_LAUNCHER": "launcher"})
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    if warm:
        env[WARM_ENV] = warm
    return env


def _launch(project: Path, warm: str | None, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LAUNCHER, *args], env=_launcher_env(project, warm), capture_output=True, text=True, timeout=120
    )


def _shown(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith("launcher="))


def _wait_for_handover(server: subprocess.Popen, project: Path, timeout: float = 60) -> None:
    """The warm dbt has taken a command when it works in the launcher's folder."""
    deadline = time.monotonic() + timeout
    while os.readlink(f"/proc/{server.pid}/cwd") != str(project):
        assert server.poll() is None and time.monotonic() < deadline, "the warm dbt never took the command"
        time.sleep(0.05)


def test_the_warm_dbt_runs_the_command_with_the_launchers_environment_and_folder(project, monkeypatch):
    monkeypatch.setenv("WARM_PROBE_SERVER", "server")  # in the warm dbt's own environment only
    with warm_dbt(project.parent, "duckdb") as server:
        warm = _launch(project, os.environ[WARM_ENV], "run-operation", "show")
        assert server.wait(timeout=30) == warm.returncode  # it ran the command, then exited
    cold = _launch(project, None, "run-operation", "show")
    assert warm.returncode == cold.returncode == 0, warm.stdout + warm.stderr
    assert _shown(warm.stdout) == _shown(cold.stdout) == "launcher=launcher server=unset"


def test_dbts_exit_code_comes_back_through_the_launcher(project):
    with warm_dbt(project.parent, "duckdb") as server:
        warm = _launch(project, os.environ[WARM_ENV], "run-operation", "fail")
        assert server.wait(timeout=30) == warm.returncode
    cold = _launch(project, None, "run-operation", "fail")
    assert warm.returncode == cold.returncode != 0
    assert "failed on purpose" in warm.stdout and "failed on purpose" in cold.stdout


def test_without_a_warm_dbt_the_launcher_starts_dbt_cold(project):
    absent = _launch(project, "salesdw-dbt-nobody-listens-here", "run-operation", "show")
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert _shown(absent.stdout) == "launcher=launcher server=unset"


def test_a_second_launcher_starts_dbt_cold_once_the_warm_dbt_is_taken(project):
    with warm_dbt(project.parent, "duckdb") as server:
        first = _launch(project, os.environ[WARM_ENV], "run-operation", "show")
        server.wait(timeout=30)
        second = _launch(project, os.environ[WARM_ENV], "run-operation", "fail")
    assert first.returncode == 0 and _shown(first.stdout) == "launcher=launcher server=unset"
    assert second.returncode != 0 and "failed on purpose" in second.stdout


def test_an_unused_warm_dbt_ends_with_its_block(project):
    with warm_dbt(project.parent, "duckdb") as server:
        name = os.environ[WARM_ENV]
        time.sleep(0.5)
        assert server.poll() is None
    assert server.returncode == -signal.SIGKILL and WARM_ENV not in os.environ
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock, pytest.raises(ConnectionRefusedError):
        sock.connect("\0" + name)


def _spinning(server: subprocess.Popen, project: Path) -> subprocess.Popen:
    """A launcher whose command the warm dbt has taken: a query that would run for minutes."""
    launcher = subprocess.Popen(
        [LAUNCHER, "run-operation", "spin"],
        env=_launcher_env(project, os.environ[WARM_ENV]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_handover(server, project)
    return launcher


def test_the_warm_dbt_dies_with_its_launcher(project):
    with warm_dbt(project.parent, "duckdb") as server:
        launcher = _spinning(server, project)
        time.sleep(1)  # into the query, which would run for minutes
        launcher.kill()
        launcher.wait()
        assert server.wait(timeout=10) == 1  # the watcher's exit, not the block's SIGKILL


def test_an_interrupt_of_the_launcher_reaches_the_warm_dbt(project):
    # dagster-dbt cancels a build with SIGINT to its child, the launcher
    with warm_dbt(project.parent, "duckdb") as server:
        launcher = _spinning(server, project)
        time.sleep(1)
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) != 0
        assert server.wait(timeout=10) == launcher.returncode  # dbt's own exit code, sent back


def test_switched_off_there_is_no_warm_dbt(monkeypatch, tmp_path):
    with warm_dbt(tmp_path, "duckdb") as server:
        assert server is not None and os.environ.get(WARM_ENV)
    monkeypatch.setenv(WARM_START_ENV, "0")
    with warm_dbt(tmp_path, "duckdb") as server:
        assert server is None and WARM_ENV not in os.environ
    monkeypatch.delenv(WARM_START_ENV)
    with warm_dbt(tmp_path, "spark") as server:  # Spark builds start dbt cold
        assert server is None and WARM_ENV not in os.environ


_EXIT_PROBE = """
import atexit, json, os, sys
_out = os.environ.get("WARM_EXIT_PROBE")
def _report():
    if _out and "dbt.cli.main" in sys.modules:
        with open(_out, "w") as f:
            json.dump({"dagster": "dagster" in sys.modules, "path0": sys.path[0],
                       "launcher_module": any(m.startswith("dbt_launcher") for m in sys.modules)}, f)
atexit.register(_report)
"""


def test_the_warm_dbt_does_not_load_salesdws_dbt_modules_as_plugins(project, tmp_path, monkeypatch):
    # Run as a script, the server's sys.path[0] would be orchestration/, where dbt's plugin discovery
    # (every `dbt_*` module on sys.path) imports orchestration/dbt_*.py and Dagster with them.
    (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(_EXIT_PROBE))
    out = tmp_path / "exit.json"
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WARM_EXIT_PROBE", str(out))
    with warm_dbt(project.parent, "duckdb") as server:
        warm = _launch(project, os.environ[WARM_ENV], "run-operation", "show")
        assert server.wait(timeout=30) == warm.returncode == 0, warm.stdout + warm.stderr
    assert json.loads(out.read_text()) == {"dagster": False, "path0": "", "launcher_module": False}


def test_only_a_process_of_the_same_user_is_a_peer(monkeypatch):
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with left, right:
        assert same_user_peer(left) == os.getpid()
        uid = os.getuid()
        monkeypatch.setattr(os, "getuid", lambda: uid + 1)
        assert same_user_peer(left) is None


def test_the_crash_tests_see_a_warm_dbt_as_a_dbt_of_its_run(tmp_path):
    # tests/test_crash_recovery.py asserts that no dbt of a killed run survives it, the warm one too
    from tests.reliability_scenario import dbt_processes

    data_dir = tmp_path / "data"
    with warm_dbt(data_dir, "duckdb") as server:
        # until the child has exec'd, /proc shows the parent's command line and environment
        deadline = time.monotonic() + 30
        while not (found := dbt_processes(data_dir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found == [server.pid]
        assert dbt_processes(tmp_path / "another") == []
    assert dbt_processes(data_dir) == []
