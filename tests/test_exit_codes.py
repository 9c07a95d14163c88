"""The exit codes of `salesdw run` (orchestration/exit_codes.py) and a PostgreSQL copy that fails
after the DuckDB publish: its own code, a one-line cause, and `salesdw status` says so."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd
import pytest
from rich.console import Console

from orchestration import exit_codes
from orchestration.runner import POSTGRES_STEP, RunOutcome
from orchestration.settings import get_settings
from tests.conftest import _fresh_database, require_postgres
from tests.quality_support import stamp_passing_audit


def outcome(*, published=True, failed_steps=(), rejected=0, quarantined=0, postgres=None) -> RunOutcome:
    rows = [
        {"status": "rejected", "file_path": f"bad{i}.csv", "error": "x", "rows_quarantined": 0} for i in range(rejected)
    ]
    rows.append({"status": "loaded", "file_path": "ok.csv", "error": None, "rows_quarantined": quarantined})
    return RunOutcome(
        run_id="r",
        success=not failed_steps,
        started_at=datetime(2030, 1, 1),
        failed_steps=list(failed_steps),
        ledger=pd.DataFrame(rows),
        published=published,
        postgres_failure=postgres,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (dict(), 0),
        (dict(published=False, failed_steps=["serving__sales_warehouse"]), 1),
        (dict(rejected=1), 3),
        (dict(quarantined=2), 5),
        (dict(failed_steps=[POSTGRES_STEP], postgres="boom"), 6),
        # precedence 1 > 6 > 3 > 5 > 0 (4 is decided before any run: tests/test_concurrency.py)
        (dict(published=False, failed_steps=["x"], rejected=1, quarantined=1), 1),
        (dict(failed_steps=["serving__sales_report"]), 1),  # published, but a later step failed
        (dict(failed_steps=[POSTGRES_STEP], postgres="boom", rejected=1, quarantined=1), 6),
        (dict(rejected=1, quarantined=3), 3),
    ],
)
def test_exit_code_and_precedence(case, expected):
    assert exit_codes.exit_code(outcome(**case)) == expected


def test_the_codes_are_those_the_readme_documents():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    assert (
        exit_codes.OK,
        exit_codes.FAILED,
        exit_codes.REJECTED_FILES,
        exit_codes.LOCKED,
        exit_codes.QUARANTINED_ROWS,
        exit_codes.POSTGRES_FAILED,
    ) == (0, 1, 3, 4, 5, 6)
    assert "`1` > `4` > `6` > `3` > `5` > `0`" in readme


def test_a_failed_postgresql_copy_after_the_duckdb_publish(tmp_path, monkeypatch):
    from orchestration.assets.serving import SERVING_WAREHOUSE
    from orchestration.runner import run_pipeline
    from orchestration.summary import print_status

    require_postgres()
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    with duckdb.connect(str(settings.build_warehouse)) as con:  # PostgreSQL text cannot hold a NUL
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 7 as id, 'a' || chr(0) || 'b' as name")
    stamp_passing_audit(settings, "build-run")
    monkeypatch.setenv("SALESDW_POSTGRES_URL", _fresh_database("salesdw_h17a_exit"))
    result = run_pipeline(settings, asset_selection=[SERVING_WAREHOUSE, dg.AssetKey(["serving", "postgres_marts"])])
    assert result.published
    assert exit_codes.exit_code(result) == exit_codes.POSTGRES_FAILED
    assert "\n" not in result.postgres_failure and "0x00" in result.postgres_failure
    assert result.postgres_failure.startswith("publish to postgresql://")  # the cause, not a source line
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        assert con.execute("select id, name from marts.mart_demo").fetchall() == [(7, "a\x00b")]
    console = Console(record=True, width=500)
    print_status(console, settings)
    shown = console.export_text()
    assert f"Last run {result.run_id} (" in shown and ": published" in shown
    assert f"PostgreSQL copy failed: {result.postgres_failure}" in shown
