"""`salesdw status` names the last run (id, time), whether it published and, if not, why; the
data-quality report is written for runs that did not publish too."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from orchestration.publish import last_publish, publish
from orchestration.quality import CheckResult, results_store
from orchestration.runner import RunOutcome
from orchestration.settings import get_settings
from orchestration.summary import print_status, record_finished
from tests.quality_support import stamp_passing_audit
from tests.test_publish import failed_result, make_build, materialize_the_publish_only


def status_text(settings) -> str:
    console = Console(record=True, width=500)
    print_status(console, settings)
    return console.export_text()


def test_a_refused_publish_writes_the_data_quality_report(tmp_path, monkeypatch):
    settings = get_settings(tmp_path)
    make_build(settings, 3)
    stamp_passing_audit(settings, "refused-run")
    results_store.append(settings.quality_dir, [failed_result("refused-run", "grain_unique")])
    result, _ = materialize_the_publish_only(tmp_path, monkeypatch)
    assert not result.success and not settings.serving_warehouse.exists()
    page = (settings.reports_dir / "data_quality.html").read_text(encoding="utf-8")
    assert "Run refused-run" in page and "grain_unique" in page and "FAILED" in page
    assert f"Last run {result.run_id} (" in status_text(settings)


def test_status_says_why_a_cli_run_did_not_publish_and_writes_the_quality_report(tmp_path):
    settings = get_settings(tmp_path)
    results_store.append(
        settings.quality_dir,
        [
            CheckResult.now(
                run_id="r9",
                layer="raw",
                asset="raw/orders",
                check_name="schema",
                passed=True,
                severity="error",
                observed_value="",
                details="",
            )
        ],
    )
    outcome = RunOutcome(
        run_id="r9",
        success=False,
        started_at=datetime(2030, 1, 1),
        failed_steps=["dbt_warehouse"],
        failure_messages=["dbt_warehouse: dbt build failed"],
    )
    record_finished(settings, outcome, 1)
    shown = status_text(settings)
    assert "Last run r9 (" in shown and "NOT published: exit code 1: dbt_warehouse: dbt build failed" in shown
    assert "Run r9" in (settings.reports_dir / "data_quality.html").read_text(encoding="utf-8")


def test_status_says_a_run_published_with_its_exit_code(tmp_path):
    settings = get_settings(tmp_path)
    make_build(settings, 3)
    stamp_passing_audit(settings, "r1")
    publish(settings, "r1")
    from orchestration import run_status

    run_status.record(settings, "r1", "published", str(settings.serving_warehouse))
    record_finished(settings, RunOutcome(run_id="r1", success=True, started_at=datetime(2030, 1, 1), published=True), 5)
    shown = status_text(settings)
    assert "Last run r1 (" in shown and ": published (exit code 5)" in shown
    assert last_publish(settings).run_id == "r1"
