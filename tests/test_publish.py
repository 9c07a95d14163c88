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

from orchestration.publish import PublishRefused, last_publish, publish, stamp_build
from orchestration.quality import CheckResult, results_store
from orchestration.settings import get_settings
from tests.quality_support import stamp_passing_audit


def make_build(settings, revenue_rows: int) -> None:
    settings.ensure_dirs()
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.mart_demo as select range as id, range * 10 as revenue from range(?)",
            [revenue_rows],
        )


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def failed_result(run_id: str, check_name: str = "row_count_change") -> CheckResult:
    return CheckResult.now(
        run_id=run_id,
        layer="marts",
        asset="marts/mart_demo",
        check_name=check_name,
        passed=False,
        severity="error",
        observed_value="-60%",
        details="dropped",
    )


def test_publish_swaps_in_the_build_with_frozen_quality_tables(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    record = publish(settings, "run-1")
    assert record.mart_rows == {"mart_demo": 5}
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select sum(revenue) from marts.mart_demo").fetchone()[0] == 100
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'quality'"
            ).fetchall()
        )
        assert sorted(con.execute("select layer, passed from quality.check_results").fetchall()) == [
            ("marts", True),
            ("raw", True),
            ("staging", True),
        ]
    # frozen as tables: later runs' results do not leak into this published file; the quarantine
    # (rejected rows as landed, personal data included) is never published
    assert kinds == {"ingestion_ledger": "BASE TABLE", "check_results": "BASE TABLE"}
    assert last_publish(settings).run_id == "run-1"


def test_failed_audit_leaves_the_serving_warehouse_byte_for_byte_unchanged(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 2)  # a new (bad) build
    stamp_passing_audit(settings, "run-2")
    results_store.append(settings.quality_dir, [failed_result("run-2")])
    with pytest.raises(PublishRefused, match="row_count_change"):
        publish(settings, "run-2")
    assert sha(settings.serving_warehouse) == before
    assert last_publish(settings).run_id == "run-1"


def test_publish_is_refused_while_a_suite_of_the_build_has_not_reported(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 7)
    stamp_build(settings, "run-2")
    results_store.append(
        settings.quality_dir,
        [
            CheckResult.now(
                run_id="run-2",
                layer="marts",
                asset="marts/mart_demo",
                check_name="grain_unique",
                passed=True,
                severity="error",
                observed_value="0",
                details="",
            )
        ],
    )
    # the raw and staging suites stored nothing for run-2's build (they crashed, or have not run yet)
    with pytest.raises(PublishRefused, match="no result of the raw suite; no result of the staging suite"):
        publish(settings, "run-2")
    assert sha(settings.serving_warehouse) == before
    assert last_publish(settings).run_id == "run-1"
    for layer in ("raw", "staging"):
        results_store.append(
            settings.quality_dir,
            [
                CheckResult.now(
                    run_id="run-2",
                    layer=layer,
                    asset=f"{layer}/orders",
                    check_name="schema",
                    passed=True,
                    severity="error",
                    observed_value="ok",
                    details="",
                )
            ],
        )
    assert publish(settings, "run-2").mart_rows == {"mart_demo": 7}


def test_the_audit_of_the_run_that_built_the_warehouse_decides_whichever_run_publishes(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 2)
    stamp_passing_audit(settings, "run-2")
    results_store.append(settings.quality_dir, [failed_result("run-2")])
    # a run that publishes only (no suite of its own), and one whose own suites all passed
    for layer in ("raw", "staging", "marts"):
        results_store.append(
            settings.quality_dir,
            [
                CheckResult.now(
                    run_id="run-3",
                    layer=layer,
                    asset=f"{layer}/x",
                    check_name="ok",
                    passed=True,
                    severity="error",
                    observed_value="",
                    details="",
                )
            ],
        )
    for publisher in ("publish-only", "run-3"):
        with pytest.raises(PublishRefused, match="for the build of run run-2.*row_count_change"):
            publish(settings, publisher)
    # a build no run vouches for (dbt failed midway, or it was built by hand) is never published
    stamp_build(settings, None)
    with pytest.raises(PublishRefused, match="carries no run id"):
        publish(settings, "run-2")
    assert sha(settings.serving_warehouse) == before


def test_a_re_execution_of_the_building_run_completes_its_audit(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_build(settings, "run-1")
    for layer in ("staging", "marts"):  # the raw suite crashed in run-1; its re-execution reruns it
        results_store.append(
            settings.quality_dir,
            [
                CheckResult.now(
                    run_id="run-1",
                    layer=layer,
                    asset=f"{layer}/x",
                    check_name="ok",
                    passed=True,
                    severity="error",
                    observed_value="",
                    details="",
                )
            ],
        )
    results_store.append(
        settings.quality_dir,
        [
            CheckResult.now(
                run_id="run-1b",
                layer="raw",
                asset="raw/x",
                check_name="ok",
                passed=True,
                severity="error",
                observed_value="",
                details="",
            )
        ],
    )
    with pytest.raises(PublishRefused, match="no result of the raw suite"):
        publish(settings, "run-1b")  # not a re-execution of run-1: its results are not the build's
    assert publish(settings, "run-1b", lineage=["run-1"]).mart_rows == {"mart_demo": 5}


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
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    out = tmp_path / "reader.txt"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.serving_warehouse), str(out)])
    try:
        wait_for(lambda: (tmp_path / "reader.txt.ready").exists(), "the reader's first read")
        for n in (7, 9, 11):  # three publishes while the reader holds its connection and reads
            make_build(settings, n)
            stamp_passing_audit(settings, f"run-{n}")
            publish(settings, f"run-{n}")
        (tmp_path / "reader.txt.stop").touch()  # its last read comes after the three publishes
        assert reader.wait(timeout=HANG_GUARD) == 0
    finally:
        reader.kill()
    seen, errors, after = out.read_text().split("|")
    assert errors == "0"
    assert seen == "[5]"  # the open connection keeps its snapshot: never a partial file
    assert after == "11"  # a new connection sees the last publish


def materialize_the_publish_only(data_dir, monkeypatch):
    """What a person does in the Dagster UI: materialize serving/sales_warehouse alone."""
    import dagster as dg

    from orchestration.assets.serving import SERVING_WAREHOUSE
    from orchestration.definitions import defs

    monkeypatch.setenv("SALESDW_DATA_DIR", str(data_dir))
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("full_refresh").execute_in_process(
            instance=instance, asset_selection=[SERVING_WAREHOUSE], raise_on_error=False
        )
        observations = [
            e.event_specific_data.asset_observation
            for e in result.all_events
            if e.event_type_value == "ASSET_OBSERVATION"
        ]
    return result, observations


def test_publishing_only_after_a_refused_run_is_refused_and_shown_by_status(tmp_path, monkeypatch):
    from rich.console import Console

    from orchestration.summary import print_status

    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    make_build(settings, 2)  # the refused run: its build stays in the build warehouse
    stamp_passing_audit(settings, "refused-run")
    results_store.append(settings.quality_dir, [failed_result("refused-run", "grain_unique")])
    result, observations = materialize_the_publish_only(tmp_path, monkeypatch)
    assert not result.success
    assert sha(settings.serving_warehouse) == before
    assert last_publish(settings).run_id == "run-1"
    [observation] = observations
    reason = observation.metadata["publish_refused"].value
    assert "for the build of run refused-run" in reason and "marts/mart_demo:grain_unique" in reason
    assert observation.metadata["build_run_id"].value == "refused-run"
    console = Console(record=True, width=400)
    print_status(console, settings)
    shown = console.export_text()
    assert f"Last run {result.run_id} (" in shown and f"NOT published: {reason}" in shown


def test_publishing_only_after_a_passing_build_publishes_it(tmp_path, monkeypatch):
    settings = get_settings(tmp_path)
    make_build(settings, 5)
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    make_build(settings, 8)
    stamp_passing_audit(settings, "good-run")
    result, observations = materialize_the_publish_only(tmp_path, monkeypatch)
    assert result.success and observations == []
    assert last_publish(settings).run_id == result.run_id
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select count(*), sum(revenue) from marts.mart_demo").fetchone() == (8, 280)
