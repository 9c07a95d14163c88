"""The Dagster instance: the documented production file stores runs in PostgreSQL, and an operator's
edited instance file survives `salesdw run` (and `make dev`, which installs it the same way)."""

from __future__ import annotations

import shutil
import subprocess
from urllib.parse import urlsplit

import dagster as dg
import psycopg

from orchestration.instance_config import SHIPPED, install_instance_yaml
from orchestration.settings import PROJECT_ROOT, get_settings
from tests.conftest import _fresh_database, require_postgres, salesdw

PRODUCTION_YAML = PROJECT_ROOT / "docs" / "dagster.postgres.yaml"


@dg.asset
def tiny() -> dg.MaterializeResult:
    """One asset, to have a run to store."""
    return dg.MaterializeResult(metadata={"rows": 3})


def test_the_documented_production_instance_stores_runs_in_postgres(tmp_path, monkeypatch):
    require_postgres()
    url = _fresh_database("salesdw_dagster_instance")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PRODUCTION_YAML, home / "dagster.yaml")
    address = urlsplit(url)
    for variable, value in {
        "HOST": address.hostname,
        "PORT": str(address.port or 5432),
        "USER": address.username,
        "PASSWORD": address.password or "",
        "DB": address.path.lstrip("/"),
    }.items():
        monkeypatch.setenv(f"DAGSTER_PG_{variable}", value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([tiny], instance=instance)
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    with psycopg.connect(url) as pg:
        [(status,)] = pg.execute("select status from runs where run_id = %s", (result.run_id,)).fetchall()
        [(materializations,)] = pg.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        ).fetchall()
    assert (status, materializations) == ("SUCCESS", 1)
    assert not list(home.glob("**/*.db"))  # nothing went to SQLite beside it


def test_the_shipped_instance_file_is_installed_and_updated_but_never_over_an_edit(tmp_path):
    home, v1, v2 = tmp_path / "home", tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text("telemetry:\n  enabled: false\n")
    v2.write_text("telemetry:\n  enabled: false\nrun_retries:\n  enabled: true\n")
    assert install_instance_yaml(home, v1) == "installed"
    assert install_instance_yaml(home, v1) == "current"
    assert install_instance_yaml(home, v2) == "updated"  # an unedited older copy follows the shipped file
    assert (home / "dagster.yaml").read_text() == v2.read_text()
    edited = v2.read_text() + "# the operator's own\n"
    (home / "dagster.yaml").write_text(edited)
    assert install_instance_yaml(home, v1) == "kept"
    assert (home / "dagster.yaml").read_text() == edited


def test_an_edited_instance_file_survives_a_run(tmp_path, monkeypatch):
    settings = get_settings(tmp_path)
    settings.dagster_home.mkdir(parents=True)
    edited = SHIPPED.read_text().replace("max_concurrent_runs: 1", "max_concurrent_runs: 1  # reviewed by ops")
    assert edited != SHIPPED.read_text()
    (settings.dagster_home / "dagster.yaml").write_text(edited)
    run = salesdw("run", data_dir=tmp_path)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))  # the development file's event log reads it
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert len(instance.get_runs()) == 1  # the run did use this instance
    assert (settings.dagster_home / "dagster.yaml").read_text() == edited


def test_make_dev_keeps_an_edited_instance_file(tmp_path):
    # `make dev` then starts the UI: run its recipe's lines that prepare the data dir, not the server
    dry = subprocess.run(
        ["make", "-n", "dev", f"DATA_DIR={tmp_path}"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    prepare = [line for line in dry if str(tmp_path) in line and " dev -m " not in line]
    assert prepare
    home = tmp_path / "dagster"
    home.mkdir()
    edited = SHIPPED.read_text() + "# the operator's own\n"
    (home / "dagster.yaml").write_text(edited)
    for line in prepare:
        subprocess.run(["bash", "-c", line], cwd=PROJECT_ROOT, check=True)
    assert (home / "dagster.yaml").read_text() == edited
