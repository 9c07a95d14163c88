"""The CLI's exit codes and messages for the cases a scheduler or a person must tell apart."""

from __future__ import annotations

from orchestration.run_lock import run_lock
from orchestration.settings import get_settings
from tests.conftest import salesdw


def test_missing_landing_folder_fails_with_a_clear_message(tmp_path):
    proc = salesdw("run", "--landing", str(tmp_path / "nope"), data_dir=tmp_path / "data")
    assert proc.returncode == 1
    assert "not a folder" in proc.stdout


def test_a_second_run_exits_4_while_the_warehouse_lock_is_held(tmp_path):
    settings = get_settings(tmp_path / "data")
    with run_lock(settings.lock_file):
        proc = salesdw("run", data_dir=settings.data_dir)
    assert proc.returncode == 4
    assert "another salesdw run" in proc.stdout


def test_unknown_profile_is_reported_by_check_profile(tmp_path):
    proc = salesdw("check-profile", "no_such_profile", data_dir=tmp_path)
    assert proc.returncode == 1
    assert "no_such_profile" in proc.stdout


def test_status_on_an_empty_data_dir(tmp_path):
    proc = salesdw("status", data_dir=tmp_path)
    assert proc.returncode == 0
    assert "nothing ingested yet" in proc.stdout
    assert "never been published" in proc.stdout
