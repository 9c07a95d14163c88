"""The dbt resource (orchestration/dbt_resource.py) skips dagster-dbt's per-run `dbt --version`
process and its in-process dbt adapter, and stays right about which dbt it drives."""

from __future__ import annotations

import inspect
import re
import subprocess
from unittest import mock

import pytest
from dagster_dbt import DbtCliResource
from dagster_dbt.core import resource as dagster_dbt_resource

from orchestration.dbt_launcher import LAUNCHER, launch_env
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
    assert "check_output([self.dbt_executable, \"--version\"])" in inspect.getsource(DbtCliResource)


def _parse_without_version_probe(cls, tmp_path):
    ensure_manifest()
    settings = get_settings(tmp_path / "data")
    settings.ensure_dirs()
    probe = mock.Mock(side_effect=AssertionError("dbt --version was run"))
    with mock.patch.object(dagster_dbt_resource, "check_output", probe), \
            environment({**settings.dbt_run_env(), **launch_env()}):
        invocation = _resource(cls).cli(["parse"], target_path=settings.data_dir / "dbt_target")
        assert invocation.wait().is_successful()
    assert invocation.adapter is None  # no dbt profile and adapter loaded in the Dagster process


def test_a_dbt_invocation_runs_no_version_probe(tmp_path):
    _parse_without_version_probe(SalesdwDbtCliResource, tmp_path)


def test_dagster_dbts_own_resource_would_run_it(tmp_path):
    # the test above can fail: the stock resource runs `dbt --version` before every invocation
    with pytest.raises(AssertionError, match="dbt --version was run"):
        _parse_without_version_probe(DbtCliResource, tmp_path)
