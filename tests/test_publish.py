"""Write-audit-publish: a refused audit leaves the serving warehouse byte-for-byte unchanged, and
a reader holding the serving file open keeps reading through a publish (two processes)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from orchestration.publish import PublishRefused, last_publish, publish
from orchestration.quality import CheckResult, results_store
from orchestration.settings import get_settings


def make_build(settings, revenue_rows: int) -> None:
    settings.ensure_dirs()
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.mart_demo as select range as id, range * 10 as revenue "
                    "from range(?)", [revenue_rows])


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_swaps_in_the_build_with_frozen_quality_tables(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    results_store.append(settings.quality_dir, [CheckResult.now(
        run_id="run-1", layer="marts", asset="marts/mart_demo", check_name="grain_unique", passed=True,
        severity="error", observed_value="0", details="")])
    record = publish(settings, "run-1")
    assert record.mart_rows == {"mart_demo": 5}
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select sum(revenue) from marts.mart_demo").fetchone()[0] == 100
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables "
                                 "where table_schema = 'quality'").fetchall())
        assert con.execute("select check_name, passed from quality.check_results").fetchall() == [("grain_unique", True)]
    # frozen as tables: later runs' results do not leak into this published file; the quarantine
    # (rejected rows as landed, personal data included) is never published
    assert kinds == {"ingestion_ledger": "BASE TABLE", "check_results": "BASE TABLE"}
    assert last_publish(settings).run_id == "run-1"


def test_failed_audit_leaves_the_serving_warehouse_byte_for_byte_unchanged(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 2)  # a new (bad) build
    results_store.append(settings.quality_dir, [CheckResult.now(
        run_id="run-2", layer="marts", asset="marts/mart_demo", check_name="row_count_change", passed=False,
        severity="error", observed_value="-60%", details="dropped")])
    with pytest.raises(PublishRefused, match="row_count_change"):
        publish(settings, "run-2")
    assert sha(settings.serving_warehouse) == before
    assert last_publish(settings).run_id == "run-1"


def test_publish_is_refused_while_a_suite_of_the_run_has_not_reported(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 7)
    results_store.append(settings.quality_dir, [CheckResult.now(
        run_id="run-2", layer="marts", asset="marts/mart_demo", check_name="grain_unique", passed=True,
        severity="error", observed_value="0", details="")])
    # the raw suite was planned in run-2 but stored nothing (it crashed, or has not run yet)
    with pytest.raises(PublishRefused, match="no result of the raw suite in run run-2"):
        publish(settings, "run-2", audited_layers=["raw", "marts"])
    assert sha(settings.serving_warehouse) == before
    assert last_publish(settings).run_id == "run-1"
    results_store.append(settings.quality_dir, [CheckResult.now(
        run_id="run-2", layer="raw", asset="raw/orders", check_name="schema", passed=True,
        severity="error", observed_value="ok", details="")])
    assert publish(settings, "run-2", audited_layers=["raw", "marts"]).mart_rows == {"mart_demo": 7}


READER = textwrap.dedent("""
    import os, sys, duckdb
    path, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect(path, read_only=True)
    seen, errors, reads = set(), 0, 0
    while True:
        stop = os.path.exists(out + ".stop")  # looked at before the read: the last read follows it
        try:
            seen.add(con.execute("select count(*) from marts.mart_demo").fetchone()[0])
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
        reads += 1
        if reads == 1:
            open(out + ".ready", "w").close()
        if stop:
            break
    con.close()
    after = duckdb.connect(path, read_only=True).execute("select count(*) from marts.mart_demo").fetchone()[0]
    open(out, "w").write(f"{sorted(seen)}|{errors}|{after}")
""")
HANG_GUARD = 120  # seconds: only a guard against a hang, never an expected duration


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_reader_keeps_reading_during_publish_and_sees_new_data_after_reconnect(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    publish(settings, "run-1")
    out = tmp_path / "reader.txt"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.serving_warehouse), str(out)])
    try:
        wait_for(lambda: (tmp_path / "reader.txt.ready").exists(), "the reader's first read")
        for n in (7, 9, 11):  # three publishes while the reader holds its connection and reads
            make_build(settings, n)
            publish(settings, f"run-{n}")
        (tmp_path / "reader.txt.stop").touch()  # its last read comes after the three publishes
        assert reader.wait(timeout=HANG_GUARD) == 0
    finally:
        reader.kill()
    seen, errors, after = out.read_text().split("|")
    assert errors == "0"
    assert seen == "[5]"  # the open connection keeps its snapshot: never a partial file
    assert after == "11"  # a new connection sees the last publish
