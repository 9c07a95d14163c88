"""Crash safety: `salesdw run` killed with SIGKILL at every stage, then simply run again.

The runs themselves happen once, in tests/reliability_scenario.py: one data directory, the demo
exports, a copy of yesterday's publish, and `salesdw run` killed by the crash points of
common/faults.py during the ingestion of a file, the audit, the dbt build and the publish,
then run again plainly. The baseline is the session's uninterrupted demo run over the same files.
The last tests pin, in process, what a kill in the middle of a small write must not leave behind.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.publish import PUBLISH_LOG, last_publish, publish
from orchestration.quality import CheckResult, results_store
from orchestration.settings import get_settings
from tests.quality_support import stamp_passing_audit
from tests.reliability_scenario import CRASHES, XDIST_GROUP, scenario

SIGKILLED = -9


def scenario_test(test):
    """The tests that read the killed runs: slow, and on the one xdist worker that runs them."""
    return pytest.mark.slow(pytest.mark.xdist_group(XDIST_GROUP)(test))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    return scenario(tmp_path_factory, demo_run)


@pytest.fixture(scope="module")
def steps(outcome):
    return {step["crash_at"].split(":")[0]: step for step in outcome["steps"]}


def landed_files(outcome) -> int:
    return len(outcome["baseline"]["ledger"])


@scenario_test
def test_every_run_was_killed_at_its_crash_point(outcome):
    assert [s["crash_at"] for s in outcome["steps"]] == list(CRASHES)
    for step in outcome["steps"]:
        assert step["returncode"] == SIGKILLED, (step["crash_at"], step["output"])


@scenario_test
def test_a_kill_during_the_ingestion_of_a_file_commits_the_files_before_it_only(steps):
    # ingest:3 = killed as the third file to do so wrote its raw batch, before its ledger row. Two
    # files load at a time and ledger rows commit in file order, so by then 0-2 files are
    # committed: always the first ones (batch ids follow file order), each with its raw batch.
    ingest = steps["ingest"]
    committed = sorted(r["batch_id"] for r in ingest["ledger"])
    orphans = sorted(Path(b).stem for b in ingest["orphan_batches"])
    assert len(committed) <= 2
    assert all(r["status"] == "loaded" for r in ingest["ledger"])
    assert set(committed) <= {Path(b).stem for b in ingest["raw_batches"]}
    assert orphans  # at least the killed file's batch, not in the ledger
    assert len(committed) + len(orphans) in (3, 4)  # the 3 that reached the point (+ one finishing)
    assert committed == [] or committed[-1] < orphans[0]  # committed: a prefix in file order
    assert any(p.startswith("tmp/ingest-") for p in ingest["leftovers"])  # the killed run's work folder


@scenario_test
def test_the_next_run_removes_what_the_killed_ingestion_left_and_loads_every_file_once(outcome, steps):
    after = steps["checks"]  # the run after the ingestion crash ingested everything, then was killed
    assert after["orphan_batches"] == []
    assert steps["ingest"]["orphan_batches"][0] not in after["raw_batches"]
    assert not any(p.startswith("tmp/ingest-") for p in after["leftovers"])
    files = Counter((r["entity"], r["file_path"]) for r in after["ledger"])
    assert len(files) == landed_files(outcome) and set(files.values()) == {1}
    # runs after it found nothing new to load
    assert steps["dbt"]["ledger"] == after["ledger"] == steps["publish"]["ledger"]


@scenario_test
def test_a_killed_dbt_build_does_not_outlive_its_run(steps):
    # dagster-dbt runs dbt as a child process; orphaned, it would keep writing the build warehouse
    # under the next run.
    assert steps["dbt"]["orphaned_dbt"] == []
    assert all(step["orphaned_dbt"] == [] for step in steps.values())


@scenario_test
def test_the_serving_warehouse_is_untouched_by_every_killed_run(outcome, steps):
    yesterday = outcome["yesterday_sha256"]
    assert [s["serving_sha256"] for s in outcome["steps"]] == [yesterday] * len(CRASHES)
    assert all(s["publish_log"] == [] for s in outcome["steps"])
    # killed between writing the audited copy and swapping it in: the copy is there, unused
    assert "warehouse/sales.duckdb.tmp" in steps["publish"]["leftovers"]


@scenario_test
def test_a_plain_rerun_completes_and_publishes(outcome):
    final = outcome["final"]
    assert sorted(final["returncodes"]) == [0, 4]  # the other run of the pair: test_concurrency.py
    assert final["serving_sha256"] != outcome["yesterday_sha256"]
    assert len(final["publish_log"]) == 1
    assert final["leftovers"] == []


def ledger_by_file(ledger: list[dict]) -> dict:
    return {
        (r["entity"], r["file_path"]): (
            r["file_sha256"],
            r["status"],
            r["rows_read"],
            r["rows_loaded"],
            r["rows_quarantined"],
        )
        for r in ledger
    }


@scenario_test
def test_the_ledger_equals_that_of_an_uninterrupted_run(outcome):
    final, baseline = outcome["final"]["ledger"], outcome["baseline"]["ledger"]
    assert len(final) == len(baseline)  # one attempt per file: nothing loaded twice, no extra rows
    assert ledger_by_file(final) == ledger_by_file(baseline)


@scenario_test
def test_every_raw_batch_is_committed_once_and_holds_its_ledger_rows(outcome):
    final = outcome["final"]
    committed = {r["batch_id"]: r for r in final["ledger"]}
    assert final["orphan_batches"] == []
    assert sorted(Path(b).stem for b in final["raw_batches"]) == sorted(committed)
    data_dir = Path(outcome["data_dir"])
    with duckdb.connect() as con:
        counts = dict(
            con.execute(
                f"select _batch_id, count(*) from read_parquet('{data_dir}/raw/*/*.parquet') group by 1"
            ).fetchall()
        )
    assert {b: r["rows_loaded"] for b, r in committed.items() if r["rows_loaded"]} == counts
    assert sum(counts.values()) == sum(r["rows_loaded"] for r in outcome["baseline"]["ledger"])


def same_value(got, expected) -> bool:
    if isinstance(expected, float) and isinstance(got, float):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)
    return got == expected  # NULLs, decimals and dates (as exact text), integers, strings


@scenario_test
def test_the_marts_equal_those_of_an_uninterrupted_run_row_for_row(outcome):
    # After the crashes the serving file stayed yesterday's byte for byte (above); after the plain
    # re-run every mart holds exactly the uninterrupted run's rows (in any order; floats to 1e-9).
    final, baseline = outcome["final"]["marts"], outcome["baseline"]["marts"]
    assert sorted(final) == sorted(baseline) and len(final) >= 10
    for table, expected in baseline.items():
        got = final[table]
        assert got["columns"] == expected["columns"], table
        assert len(got["rows"]) == len(expected["rows"]) > 0, table
        for got_row, expected_row in zip(got["rows"], expected["rows"]):
            assert all(same_value(g, e) for g, e in zip(got_row, expected_row)), (
                table,
                dict(zip(got["columns"], got_row)),
                dict(zip(expected["columns"], expected_row)),
            )


def check_result(run_id: str) -> CheckResult:
    return CheckResult.now(
        run_id=run_id,
        layer="marts",
        asset="marts/mart_demo",
        check_name="grain_unique",
        passed=True,
        severity="error",
        observed_value="0",
        details="",
    )


def test_a_kill_while_the_check_results_store_writes_leaves_no_torn_file(tmp_path, monkeypatch):
    real_write = pq.write_table

    def killed_midway(table, where, **kwargs):
        where.write(b"PAR1 half a file")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(pq, "write_table", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        results_store.append(tmp_path, [check_result("run-1")])
    monkeypatch.setattr(pq, "write_table", real_write)
    assert list(results_store.results_dir(tmp_path).glob("*.parquet")) == []
    results_store.append(tmp_path, [check_result("run-2")])  # the store still reads, and takes more
    assert list(results_store.read(tmp_path).run_id) == ["run-2"]


def test_a_torn_last_line_of_the_publish_log_does_not_hide_the_last_publish(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 1 as id")
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    with open(settings.warehouse_dir / PUBLISH_LOG, "a") as log:
        log.write('{"run_id": "run-2", "published_at": "2030-')  # killed mid-append
    assert last_publish(settings).run_id == "run-1"


def test_a_publish_after_a_killed_publish_ignores_its_staged_copy_and_wal(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select range as id from range(3)")
    staged = settings.serving_warehouse.with_name("sales.duckdb.tmp")
    with duckdb.connect(str(staged)) as con:  # what a killed publish leaves: its copy, and a WAL
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 99 as id")
    staged.with_name("sales.duckdb.tmp.wal").write_bytes(b"not this database's log")
    stamp_passing_audit(settings, "run-1")
    publish(settings, "run-1")
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select count(*), sum(id) from marts.mart_demo").fetchone() == (3, 3)
    assert not staged.exists() and not staged.with_name("sales.duckdb.tmp.wal").exists()
