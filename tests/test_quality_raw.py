"""Raw suite: contract schema, required values, landed rows, row rules, ledger balance, dates.

The raw layer needs no dbt: batches are written straight into the raw zone (bypassing ingestion,
which is how a defect would get there) and exposed as raw.<entity> views.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from ingestion.raw_zone import expose_file
from orchestration.quality import run_suite
from orchestration.quality.suites import load_suite
from orchestration.settings import get_settings
from tests.quality_support import assert_the_audit_refuses_the_publish, write_ledger
from tests.support import write_raw_batch


def _write_clean_zone(data_dir):
    """A few rows per entity; the latest business event is the survey of 2025-01-31."""
    raw, quality = data_dir / "raw", data_dir / "quality"
    write_raw_batch(
        raw, "accounts", [{"account_id": "A1", "account_name": "Acme", "created_at": "2025-01-02 09:00:00"}]
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-10", "status": "completed"},
            {"order_id": "O2", "account_id": "A1", "order_date": "2025-01-12", "status": "pending"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {
                "order_id": "O1",
                "line_number": 1,
                "product_id": "P1",
                "quantity": "2",
                "unit_price": "100",
                "discount_amount": "5",
            },
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [
            {"return_id": "R1", "order_id": "O1", "return_date": "2025-01-20", "refund_amount": "30"},
        ],
    )
    write_raw_batch(
        raw,
        "survey_responses",
        [
            {"response_id": "S1", "survey_type": "nps", "submitted_at": "2025-01-31 10:00:00", "score": "9"},
            {"response_id": "S2", "survey_type": "csat", "submitted_at": "2025-01-15 10:00:00", "score": "4"},
        ],
    )
    write_raw_batch(
        raw,
        "expenses",
        [
            {"expense_id": "E1", "expense_date": "2025-01-31", "team_id": "T1", "category": "travel", "amount": "120"},
        ],
    )
    write_ledger(
        quality,
        [
            {
                "batch_id": "b1",
                "entity": "orders",
                "status": "loaded",
                "rows_read": 3,
                "rows_loaded": 2,
                "rows_quarantined": 1,
            },
            {
                "batch_id": "b2",
                "entity": "order_lines",
                "status": "loaded",
                "rows_read": 1,
                "rows_loaded": 1,
                "rows_quarantined": 0,
            },
            {
                "batch_id": "b3",
                "entity": "orders",
                "status": "duplicate_file",
                "rows_read": 0,
                "rows_loaded": 0,
                "rows_quarantined": 0,
            },
            {
                "batch_id": "b4",
                "entity": "teams",
                "status": "rejected",
                "rows_read": 0,
                "rows_loaded": 0,
                "rows_quarantined": 0,
            },
            # two accounts snapshots: 1,000 then 701 rows (a 29.9 % drop, under the 30 % limit)
            {
                "batch_id": "b5",
                "profile": "canonical",
                "entity": "accounts",
                "file_path": "accounts.csv",
                "status": "loaded",
                "rows_read": 1000,
                "rows_loaded": 1000,
                "rows_quarantined": 0,
            },
            {
                "batch_id": "b6",
                "profile": "canonical",
                "entity": "accounts",
                "file_path": "accounts_2.csv",
                "status": "loaded",
                "rows_read": 701,
                "rows_loaded": 701,
                "rows_quarantined": 0,
            },
        ],
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    clean_dir, broken_dir = tmp_path_factory.mktemp("clean"), tmp_path_factory.mktemp("broken")
    for data_dir in (clean_dir, broken_dir):
        _write_clean_zone(data_dir)
    raw, quality = broken_dir / "raw", broken_dir / "quality"
    write_raw_batch(
        raw,
        "order_lines",
        [  # quantity -1 written around ingestion
            {"order_id": "O2", "line_number": 1, "product_id": "P1", "quantity": "-1", "unit_price": "10"},
        ],
    )
    write_raw_batch(raw, "orders", [{"order_id": "O3", "order_date": "2025-01-11", "status": "completed"}])
    write_raw_batch(
        raw,
        "returns",
        [
            {"return_id": "R2", "order_id": "O1", "return_date": "2025-03-01", "refund_amount": "5"},
        ],
    )
    write_ledger(
        quality,
        [
            {
                "batch_id": "b9",
                "entity": "orders",
                "status": "loaded",
                "rows_read": 5,
                "rows_loaded": 2,
                "rows_quarantined": 1,
            },
            # the ledger says cases landed, but no cases batch is in the raw zone
            {
                "batch_id": "b10",
                "entity": "cases",
                "status": "loaded",
                "rows_read": 3,
                "rows_loaded": 3,
                "rows_quarantined": 0,
            },
            # a third accounts snapshot, 30.1 % smaller than the 701 rows before it
            {
                "batch_id": "b7",
                "profile": "canonical",
                "entity": "accounts",
                "file_path": "accounts_3.csv",
                "status": "loaded",
                "rows_read": 490,
                "rows_loaded": 490,
                "rows_quarantined": 0,
            },
            # another profile's accounts: compared with its own snapshots only
            {
                "batch_id": "b8",
                "profile": "maven_crm",
                "entity": "accounts",
                "file_path": "maven/accounts.csv",
                "status": "loaded",
                "rows_read": 10,
                "rows_loaded": 10,
                "rows_quarantined": 0,
            },
            # snapshots compare in snapshot-date order, not landing order: the March reps landed after
            # April's (a backfill, not a shrink); the April products (10 rows) follow March's 100
            *(
                {
                    "batch_id": b,
                    "profile": "dated",
                    "entity": e,
                    "file_path": f"{e}_{d}.csv",
                    "snapshot_date": d,
                    "status": "loaded",
                    "rows_read": n,
                    "rows_loaded": n,
                    "rows_quarantined": 0,
                }
                for b, e, d, n in (
                    ("b11", "reps", "2025-04-30", 100),
                    ("b12", "reps", "2025-03-31", 10),
                    ("b13", "products", "2025-04-30", 10),
                    ("b14", "products", "2025-03-31", 100),
                )
            ),
        ],
        batch_id="ledger-2",
    )
    results = {}
    for name, data_dir in (("clean", clean_dir), ("broken", broken_dir)):
        settings = get_settings(data_dir)
        expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
        if name == "broken":
            with duckdb.connect(str(settings.build_warehouse)) as con:  # a view off the contract
                con.execute("create or replace view raw.teams as select 1 as team_id")
        results[name] = run_suite("raw", settings.build_warehouse, run_id=name, quality_dir=settings.quality_dir)
    results["broken_warehouse"] = get_settings(broken_dir).build_warehouse
    return results


def _result(results, asset, check):
    [match] = [r for r in results if r.asset == asset and r.check_name == check]
    return match


def test_clean_raw_zone_passes_every_check(runs):
    assert [(r.asset, r.check_name, r.observed_value) for r in runs["clean"] if not r.passed] == []
    assert len(runs["clean"]) == len(load_suite("raw"))
    # order_lines landed per the ledger and holds its one row
    assert _result(runs["clean"], "raw/order_lines", "rows_present_when_landed").observed_value == "1"
    assert _result(runs["clean"], "raw/cases", "rows_present_when_landed").observed_value == "not landed"


def test_the_broken_raw_zone_refuses_the_publish(runs):
    broken_dir = runs["broken_warehouse"].parent.parent
    assert_the_audit_refuses_the_publish(broken_dir, "broken", "raw/order_lines:row_rules_hold")


def test_negative_quantity_breaks_the_row_rule(runs):
    result = _result(runs["broken"], "raw/order_lines", "row_rules_hold")
    assert (result.passed, result.severity) == (False, "error")
    assert result.observed_value == "quantity must be > 0: 1 rows"
    assert "order_id: O2" in result.details and "quantity: -1" in result.details


def test_missing_required_value_fails(runs):
    result = _result(runs["broken"], "raw/orders", "required_values_present")
    assert (result.passed, result.severity) == (False, "error")
    assert result.observed_value == "account_id: 1 of 3 rows"


def test_unbalanced_ledger_row_fails_for_its_entity(runs):
    result = _result(runs["broken"], "raw/orders", "ledger_rows_balance")
    assert (result.passed, result.observed_value) == (False, "1 files unbalanced")
    assert "batch_id: b9" in result.details
    assert _result(runs["broken"], "raw/order_lines", "ledger_rows_balance").passed


def test_landed_entity_without_rows_fails(runs):
    result = _result(runs["broken"], "raw/cases", "rows_present_when_landed")
    assert (result.passed, result.severity, result.observed_value) == (False, "error", "0")


def test_view_off_the_contract_fails_the_schema_check(runs):
    result = _result(runs["broken"], "raw/teams", "schema_matches_contract")
    # team_id has the wrong type, the other 4 canonical and 6 lineage columns are missing
    assert (result.passed, result.observed_value) == (False, "11 columns differ from the contract")
    assert "column_name: team_id, contract_type: VARCHAR, actual_type: INTEGER" in result.details


def test_a_snapshot_file_shrunk_by_30_percent_or_more_blocks_naming_the_file(runs):
    assert _result(runs["clean"], "raw/accounts", "snapshot_not_shrunk").passed  # 1000 -> 701
    result = _result(runs["broken"], "raw/accounts", "snapshot_not_shrunk")
    assert (result.passed, result.severity) == (False, "error")
    assert result.observed_value == "1 snapshot files shrunk by 30% or more"
    assert "shrunk: accounts: 701 → 490 rows, accounts_3.csv" in result.details
    assert "previous_file: accounts_2.csv" in result.details


def test_snapshots_compare_in_snapshot_date_order_not_landing_order(runs):
    assert _result(runs["broken"], "raw/reps", "snapshot_not_shrunk").passed
    result = _result(runs["broken"], "raw/products", "snapshot_not_shrunk")
    assert not result.passed
    assert "shrunk: products: 100 → 10 rows, products_2025-04-30.csv" in result.details
    assert "previous_file: products_2025-03-31.csv" in result.details


def test_refund_after_the_as_of_date_is_a_warning(runs):
    # as_of_date = latest business event = survey of 2025-01-31; a return on 2025-03-01 is later
    result = _result(runs["broken"], "raw/returns", "dates_not_in_future")
    assert (result.passed, result.severity, result.observed_value) == (False, "warn", "return_date: 1 of 2 rows")
    assert not result.blocking


def test_a_writer_can_open_the_warehouse_after_the_suite(runs):
    # run_suite has returned (fixture): no DuckDB handle of this process may block a writer
    code = f"import duckdb; duckdb.connect({str(runs['broken_warehouse'])!r}).execute('create table w (x int)')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_no_expectation_makes_gx_print_its_batch_hint(capsys):
    # GX prints a hint to stdout for every unexpected-rows query that does not read {batch}; the
    # raw suite now runs in a thread beside dbt, where stdout carries dbt's log lines, so nothing
    # may print (and redirecting stdout would swallow dbt's lines for the whole process).
    from orchestration.quality.gx_startup import gx_context
    from orchestration.quality.runner import _gx_expectation
    from orchestration.quality.suites import LAYERS, UNEXPECTED_ROWS

    gx_context()
    capsys.readouterr()
    built = 0
    for layer in LAYERS:
        for check in load_suite(layer):
            for exp in check.expectations:
                if exp.type == UNEXPECTED_ROWS:
                    _gx_expectation(exp, {})
                    built += 1
    assert built > 20
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_a_cut_accounts_snapshot_after_a_full_one_refuses_the_publish(demo_run, tmp_path):
    import shutil

    from ingestion.ledger import read_ledger
    from orchestration.quality.results_store import read
    from tests.conftest import salesdw

    # the published demo, copied: its full accounts export is the previous snapshot
    assert demo_run.exit_code == 0, demo_run.output
    tmp_path = tmp_path / "data"
    shutil.copytree(demo_run.data_dir, tmp_path, symlinks=True)
    exports = tmp_path / "landing" / "canonical"
    settings = get_settings(tmp_path)
    served = settings.serving_warehouse.read_bytes()
    [full] = list((exports / "accounts").glob("accounts*.csv"))
    text = full.read_bytes()
    rows = text.count(b"\n") - 1  # no newline inside the generated accounts' values
    # the same export cut at half its size, mid-line, as a newer snapshot
    # (at a character boundary: a cut inside a UTF-8 character rejects the whole file instead)
    cut = text[: len(text) // 2].decode("utf-8", errors="ignore").encode("utf-8")
    assert not cut.endswith(b"\n")
    complete_rows = cut.count(b"\n") - 1  # the header's newline excluded; the cut last line may load too
    (full.parent / "accounts_cut.csv").write_bytes(cut)
    second = salesdw("run", data_dir=tmp_path)
    assert second.returncode == 1, (second.stdout + second.stderr)[-3000:]
    assert settings.serving_warehouse.read_bytes() == served
    relative = (full.parent / "accounts_cut.csv").relative_to(exports).as_posix()
    ledger = read_ledger(settings.quality_dir).set_index("file_path")
    loaded = int(ledger.loc[relative, "rows_loaded"])
    assert complete_rows <= loaded <= complete_rows + 1 and loaded <= rows * 0.7
    results = read(settings.quality_dir)
    [check] = results[
        (results.asset == "raw/accounts") & (results.check_name == "snapshot_not_shrunk") & ~results.passed
    ].itertuples()
    assert f"accounts: {rows} → {loaded} rows, {relative}" in check.details
    assert "snapshot_not_shrunk" in second.stdout + second.stderr


def test_a_placeholder_date_9999_12_31_does_not_crash_the_suite(tmp_path):
    # An open deal's expected close_date (exempt from the ingestion horizon) and an order date
    # written around ingestion, both 9999-12-31: the as_of date becomes Python's last day.
    raw, quality = tmp_path / "raw", tmp_path / "quality"
    write_raw_batch(
        raw,
        "opportunities",
        [
            {
                "opportunity_id": "P1",
                "owner_rep_id": "R1",
                "stage": "prospecting",
                "created_at": "2024-01-02 10:00:00",
                "close_date": "9999-12-31",
            }
        ],
    )
    write_raw_batch(
        raw, "orders", [{"order_id": "O1", "account_id": "A1", "order_date": "9999-12-31", "status": "completed"}]
    )
    settings = get_settings(tmp_path)
    expose_file(settings.build_warehouse, raw, quality)
    results = run_suite("raw", settings.build_warehouse, run_id="far", quality_dir=quality)
    assert [(r.asset, r.check_name, r.details) for r in results if not r.passed] == []
    dates = _result(results, "raw/orders", "dates_not_in_future")
    assert "as_of_date 9999-12-31 (latest event in raw)" in dates.details
