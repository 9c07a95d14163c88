"""The CLI's exit codes and messages for the cases a scheduler or a person must tell apart."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading

import pytest

from orchestration.run_lock import RunLockBusy, run_lock
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


def _hold_unnamed(lock_file, content: str) -> int:
    """Holds lock_file as a run that has taken the flock but not yet written its pid."""
    lock_file.write_text(content)
    fd = os.open(lock_file, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _name_holder_later(fd: int, pid: int) -> threading.Timer:
    def write():
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(pid).encode(), 0)

    timer = threading.Timer(0.3, write)
    timer.start()
    return timer


@pytest.mark.parametrize("left_over", ["nothing", "a dead pid"])
def test_a_refused_run_names_the_holder_even_before_it_has_written_its_pid(tmp_path, left_over):
    lock_file = tmp_path / ".run.lock"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    fd = _hold_unnamed(lock_file, dead.stdout.strip() if left_over == "a dead pid" else "")
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    timer = _name_holder_later(fd, holder.pid)
    try:
        with pytest.raises(RunLockBusy) as refused, run_lock(lock_file):
            pass
        assert f"(pid {holder.pid}," in str(refused.value)
    finally:
        timer.join()
        holder.communicate(b"")
        os.close(fd)


def test_a_released_lock_leaves_no_pid_behind(tmp_path):
    lock_file = tmp_path / ".run.lock"
    with run_lock(lock_file):
        assert lock_file.read_text() == str(os.getpid())
    assert lock_file.read_text() == ""
