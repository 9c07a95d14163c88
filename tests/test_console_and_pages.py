"""What the operator's terminal and the readers' pages get: file names printed literally (Rich
markup and control characters in a name neither crash the run summary or `salesdw status` nor
reach the terminal), the report's embedded JSON safe inside <script>, and the pages 0644."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime

import duckdb
import pandas as pd
from rich.console import Console

from orchestration.quality import CheckResult, results_store
from orchestration.quality.report import write_quality_report
from orchestration.runner import RunOutcome
from orchestration.serving.report import write_report
from orchestration.settings import get_settings
from orchestration.summary import print_run_summary, print_status
from tests.quality_support import write_ledger
from tests.test_report import make_fixture_warehouse

MARKUP_NAME = "landing/canonical/orders/x[/]y.csv"
ANSI_NAME = "landing/canonical/orders/\x1b[31mred\x1b[0m.csv"


def recorded(print_fn, *args, **kwargs) -> str:
    console = Console(record=True, width=300, force_terminal=True)
    print_fn(console, *args, **kwargs)
    return console.export_text(styles=False)


def test_the_run_summary_prints_hostile_file_names_literally(tmp_path):
    settings = get_settings(tmp_path)
    ledger = pd.DataFrame(
        [
            {
                "status": "rejected",
                "file_path": name,
                "error": f"{name}: not a CSV [bold]",
                "entity": "orders",
                "rows_loaded": 0,
                "rows_quarantined": 0,
            }
            for name in (MARKUP_NAME, ANSI_NAME)
        ]
    )
    outcome = RunOutcome(
        run_id="r1",
        success=False,
        started_at=datetime(2030, 1, 1),
        ledger=ledger,
        failed_steps=["ingest_exports"],
        failure_messages=[f"ingest_exports: {MARKUP_NAME}"],
    )
    shown = recorded(print_run_summary, settings, outcome, elapsed=1.0)
    assert f"rejected {MARKUP_NAME}: {MARKUP_NAME}: not a CSV [bold]" in shown
    assert f"ingest_exports: {MARKUP_NAME}" in shown
    assert "\x1b" not in shown and "\\x1b[31mred\\x1b[0m.csv" in shown


def test_status_prints_hostile_file_names_literally(tmp_path):
    settings = get_settings(tmp_path)
    write_ledger(
        settings.quality_dir,
        [
            {
                "batch_id": f"b{i}",
                "profile": "canonical",
                "entity": "orders",
                "file_path": name,
                "status": "rejected",
                "rows_read": 0,
                "rows_loaded": 0,
                "rows_quarantined": 0,
                "error": "bad [/] file",
                "started_at": datetime(2030, 1, 1),
                "finished_at": datetime(2030, 1, 1),
            }
            for i, name in enumerate((MARKUP_NAME, ANSI_NAME))
        ],
    )
    shown = recorded(print_status, settings)
    assert f"rejected {MARKUP_NAME}: bad [/] file" in shown
    assert "\x1b" not in shown and "\\x1b[31mred\\x1b[0m.csv: bad [/] file" in shown


def test_a_name_with_an_html_comment_opener_keeps_every_chart(tmp_path):
    name = "Li <!--<script> Wei</script>"
    warehouse = make_fixture_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.mart_rep_kpi_monthly set rep_name = ? where rep_id = 'R1'", [name])
    html = write_report(warehouse, tmp_path / "out").read_text(encoding="utf-8")
    [specs] = re.findall(r"const specs = (.*?);\n\s*const renderError", html, flags=re.S)
    assert "<!--" not in specs and "</" not in specs and "<script" not in specs
    assert name in json.dumps(json.loads(specs), ensure_ascii=False)


def test_the_readers_pages_are_0644_whatever_the_umask(tmp_path):
    warehouse = make_fixture_warehouse(tmp_path / "w.duckdb")
    results_store.append(
        tmp_path / "quality",
        [
            CheckResult.now(
                run_id="r1",
                layer="marts",
                asset="marts/x",
                check_name="ok",
                passed=True,
                severity="error",
                observed_value="",
                details="",
            )
        ],
    )
    previous = os.umask(0o077)
    try:
        pages = [write_report(warehouse, tmp_path / "out", lang=lang) for lang in ("en", "zh")]
        pages.append(write_quality_report(tmp_path / "quality", tmp_path / "out"))
    finally:
        os.umask(previous)
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in pages} == {
        "sales_report.html": "0o644",
        "sales_report.zh.html": "0o644",
        "data_quality.html": "0o644",
    }


def failed_evaluation(observed: str, details: str):
    import dagster as dg

    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(["staging", "stg_fx_rates"]),
        check_name="fx_rate_present",
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"observed_value": observed, "details": details},
    )


def test_a_failed_check_shows_what_it_saw_during_the_run_and_in_the_summary(tmp_path, monkeypatch):
    import logging
    from types import SimpleNamespace

    from orchestration import progress

    details = "unexpected values: ['USD 2025-03: 4 orders without a rate']"
    evaluation = failed_evaluation("1 of 1 rows", details)
    console = Console(record=True, width=300)
    monkeypatch.setattr(progress, "_console", console)
    record = logging.LogRecord("salesdw", logging.DEBUG, "", 0, "", None, None)
    record.dagster_event = SimpleNamespace(
        event_type_value="ASSET_CHECK_EVALUATION",
        step_key="staging_quality_checks",
        event_specific_data=SimpleNamespace(evaluation=evaluation),
    )
    progress._ProgressHandler().emit(record)
    line = console.export_text()
    assert line.strip() == (
        f"check failed (ERROR): staging/stg_fx_rates:fx_rate_present — observed: 1 of 1 rows; details: {details}"
    )

    outcome = RunOutcome(
        run_id="r1",
        success=False,
        started_at=datetime(2030, 1, 1),
        failed_checks=[("staging/stg_fx_rates", "fx_rate_present", "ERROR")],
        check_observations={("staging/stg_fx_rates", "fx_rate_present"): progress.check_observation(evaluation)},
    )
    shown = recorded(print_run_summary, get_settings(tmp_path), outcome, elapsed=1.0)
    assert f"error staging/stg_fx_rates: fx_rate_present — observed: 1 of 1 rows; details: {details}" in shown


def test_what_a_check_saw_is_cut_to_one_short_line():
    from orchestration.progress import OBSERVATION_LIMIT, check_observation

    many = ", ".join(f"'EUR 2024-{m:02}: {m} orders without a rate'" for m in range(1, 13))
    seen = check_observation(failed_evaluation("12 of 12 rows", f"unexpected values:\n[{many}]"))
    assert len(seen) == OBSERVATION_LIMIT == 300 and seen.endswith("…") and "\n" not in seen
    assert seen.startswith("observed: 12 of 12 rows; details: unexpected values: ['EUR 2024-01: 1 orders")
    assert check_observation(failed_evaluation("", "")) == ""
