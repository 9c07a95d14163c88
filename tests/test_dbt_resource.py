"""The dbt resource (orchestration/dbt_resource.py) skips dagster-dbt's per-run `dbt --version`
process and its in-process dbt adapter, and stays right about which dbt it drives."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from unittest import mock

import pytest
from dagster_dbt import DbtCliResource
from dagster_dbt.core import resource as dagster_dbt_resource

from orchestration.dbt_launcher import LAUNCHER, launch_env, script_interpreter
from orchestration.dbt_manifest import dbt_project, ensure_manifest
from orchestration.dbt_resource import SalesdwDbtCliResource
from orchestration.settings import environment, get_settings


def _resource(cls):
    return cls(project_dir=dbt_project, profiles_dir=str(dbt_project.profiles_dir), dbt_executable=LAUNCHER)


def test_the_version_is_the_one_dbt_reports():
    with environment(launch_env()):
        reported = subprocess.run([LAUNCHER, "--version"], capture_output=True, text=True, check=True).stdout
    core = re.search(r"installed:\s*(\d+\.\d+\.\d+)", reported)
    assert core, reported
    assert str(_resource(SalesdwDbtCliResource)._cli_version) == core.group(1)


def test_dagster_dbt_still_calls_what_is_overridden():
    # If an upgrade renames these, the overrides silently stop applying: fail here instead.
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source
    assert 'check_output([self.dbt_executable, "--version"])' in inspect.getsource(DbtCliResource)


def _parse_without_version_probe(cls, tmp_path):
    ensure_manifest()
    settings = get_settings(tmp_path / "data")
    settings.ensure_dirs()
    probe = mock.Mock(side_effect=AssertionError("dbt --version was run"))
    with (
        mock.patch.object(dagster_dbt_resource, "check_output", probe),
        environment({**settings.dbt_run_env(), **launch_env()}),
    ):
        invocation = _resource(cls).cli(["parse"], target_path=settings.data_dir / "dbt_target")
        assert invocation.wait().is_successful()
    assert invocation.adapter is None  # no dbt profile and adapter loaded in the Dagster process


def test_a_dbt_invocation_runs_no_version_probe(tmp_path):
    _parse_without_version_probe(SalesdwDbtCliResource, tmp_path)


def test_dagster_dbts_own_resource_would_run_it(tmp_path):
    # the test above can fail: the stock resource runs `dbt --version` before every invocation
    with pytest.raises(AssertionError, match="dbt --version was run"):
        _parse_without_version_probe(DbtCliResource, tmp_path)


_GC_PROBE = """
import atexit, gc, json, os, sys
def _report():
    with open(os.environ["GC_PROBE_OUT"], "w") as f:
        json.dump({"frozen": gc.get_freeze_count(), "enabled": gc.isenabled(), "argv0": sys.argv[0],
                   "dbt_loaded": "dbt.cli.main" in sys.modules}, f)
atexit.register(_report)
"""


def test_the_launcher_runs_dbt_with_its_imports_frozen(tmp_path):
    # a sitecustomize in dbt's process reports its collector's state at exit
    (tmp_path / "sitecustomize.py").write_text(_GC_PROBE)
    out = tmp_path / "gc.json"
    env = {**launch_env(), "PYTHONPATH": str(tmp_path), "GC_PROBE_OUT": str(out)}
    with environment(env):
        launched = subprocess.run([LAUNCHER, "--version"], capture_output=True, text=True)
    with environment({"PYTHONPATH": str(tmp_path), "GC_PROBE_OUT": str(tmp_path / "plain.json")}):
        plain = subprocess.run([env["SALESDW_DBT_EXECUTABLE"], "--version"], capture_output=True, text=True)
    assert (launched.returncode, launched.stdout) == (plain.returncode, plain.stdout)
    seen = json.loads(out.read_text())
    assert seen["dbt_loaded"] and seen["enabled"] and seen["argv0"] == "dbt"
    assert seen["frozen"] > 50_000  # dbt's modules, classes and functions
    assert json.loads((tmp_path / "plain.json").read_text())["frozen"] == 0  # dbt's own script: none


def test_the_launcher_passes_dbts_exit_code_through():
    with environment(launch_env()):
        failed = subprocess.run([LAUNCHER, "no-such-command"], capture_output=True, text=True)
        plain = subprocess.run(
            [launch_env()["SALESDW_DBT_EXECUTABLE"], "no-such-command"], capture_output=True, text=True
        )
    assert failed.returncode == plain.returncode != 0
    assert "no-such-command" in failed.stderr


def test_only_a_python_script_gets_the_bootstrap(tmp_path):
    def script(first_line: bytes) -> str:
        path = tmp_path / f"s{len(list(tmp_path.iterdir()))}"
        path.write_bytes(first_line + b"\nprint('hi')\n")
        return str(path)

    assert script_interpreter(script(f"#!{sys.executable}".encode())) == sys.executable
    assert script_interpreter(script(b"#!/usr/bin/env python3")) is None  # not a fixed interpreter
    assert script_interpreter(script(b"#!/bin/sh")) is None
    assert script_interpreter(script(b"\x7fELF\x02\x01")) is None  # a binary dbt (dbt Fusion)
    assert script_interpreter(str(tmp_path / "missing")) is None
    assert script_interpreter(script(b"#!/nonexistent/python3")) is None
