"""Failure alerts: the message names the failed checks and the suspect files; the run-failure
sensor posts it for a real failed run to a webhook (a local HTTP server here)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.alerts import FailedRun, SuspectFile, compose_alert, email_message, failure_alert_sensor
from orchestration.assets.ingestion import ingest_exports
from orchestration.definitions import file_names_tag, landing_folder_sensor
from orchestration.quality.asset_checks import build_quality_checks
from orchestration.resources import SalesdwResource
from orchestration.settings import get_settings
from tests.quality_support import MART_TABLES, build_marts_warehouse

GOOD_ACCOUNTS = (
    "account_id,account_name,created_at\n"
    "A1,Acme,2025-01-02 09:00:00\n"
    ",Nameless,2025-01-03 09:00:00\n"
)  # empty key: quarantined
MISSING_COLUMN = "account_id,created_at\nA2,2025-01-04 09:00:00\n"  # account_name is required: rejected


def test_compose_alert_names_the_failed_checks_and_the_suspect_files():
    run = FailedRun(
        run_id="0123456789abcdef",
        job_name="full_refresh",
        error="Execution of run failed.",
        failed_checks=[("marts/mart_rep_kpi_monthly", "rates_within_0_1", "ERROR")],
        failed_steps=["marts_quality_checks"],
        suspect_files=[SuspectFile("landing/canonical/orders/o.csv", "rejected: bad header")],
        new_files="canonical/orders/o.csv",
    )
    alert = compose_alert(run, ui_url="http://dagster:3000/")
    assert alert["subject"] == "salesdw: run 01234567 of full_refresh failed"
    assert alert["text"].splitlines() == [
        "salesdw: run 01234567 of full_refresh failed.",
        "Error: Execution of run failed.",
        "Failed steps: marts_quality_checks",
        "Failed checks (1):",
        "- marts/mart_rep_kpi_monthly rates_within_0_1 [ERROR]",
        "Suspect files (1):",
        "- landing/canonical/orders/o.csv: rejected: bad header",
        "New files of the run: canonical/orders/o.csv",
        "Run: http://dagster:3000/runs/0123456789abcdef",
    ]
    assert alert["failed_checks"] == [
        {"asset": "marts/mart_rep_kpi_monthly", "check": "rates_within_0_1", "severity": "ERROR"}
    ]
    mail = email_message(alert, "dw@example.com", ["a@example.com", "b@example.com"])
    assert (mail["To"], mail["Subject"]) == ("a@example.com, b@example.com", alert["subject"])
    assert mail.get_content().strip() == alert["text"]


def test_compose_alert_bounds_long_lists():
    checks = [(f"marts/m{i:02}", "c", "ERROR") for i in range(25)]
    text = compose_alert(FailedRun(run_id="r" * 16, job_name="j", error="", failed_checks=checks))["text"]
    listed = [line for line in text.splitlines() if line.startswith("- marts/")]
    assert len(listed) == 20 and "… and 5 more" in text and "Suspect files: none" in text


def test_file_names_tag_lists_names_within_the_bound(tmp_path):
    landing = tmp_path / "landing"
    assert (
        file_names_tag([str(landing / "canonical/b/y.csv"), str(landing / "canonical/a/x.csv")], landing)
        == "canonical/a/x.csv, canonical/b/y.csv"
    )
    many = [str(landing / f"canonical/orders/orders_{i:03}.csv") for i in range(100)]
    value = file_names_tag(many, landing)
    shown = value.split(" (+")[0].split(", ")
    assert len(value) <= 500 and shown == [f"canonical/orders/orders_{i:03}.csv" for i in range(len(shown))]
    assert value.endswith(f"(+{100 - len(shown)} more)")


def test_landing_sensor_tags_name_the_new_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESDW_DATA_DIR", str(tmp_path))
    folder = get_settings(tmp_path).landing_dir / "canonical" / "accounts"
    folder.mkdir(parents=True)
    (folder / "accounts_1.csv").write_text(GOOD_ACCOUNTS)
    with dg.DagsterInstance.ephemeral() as instance:
        request = landing_folder_sensor(dg.build_sensor_context(instance=instance))
    assert request.tags["salesdw/new_file_names"] == "canonical/accounts/accounts_1.csv"
    assert request.tags["salesdw/new_files"] == "1"


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def _stand_in(table):
    @dg.asset(key_prefix=["marts"], name=table)
    def _mart():
        """Stands in for the dbt model: the warehouse is prepared by the test."""

    return _mart


def _failed_run(data_dir: Path, instance: dg.DagsterInstance):
    """A real run that ingests a rejected and a quarantining file, then fails a blocking mart check."""
    settings = get_settings(data_dir)
    folder = settings.landing_dir / "canonical" / "accounts"
    folder.mkdir(parents=True)
    (folder / "accounts_1.csv").write_text(GOOD_ACCOUNTS)
    (folder / "accounts_2.csv").write_text(MISSING_COLUMN)
    build_marts_warehouse(settings.build_warehouse)
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("update marts.mart_rep_kpi_monthly set win_rate = 1.3 where rep_id = 'R2'")
    published = dg.AssetSpec(["published"], deps=[dg.AssetKey(["marts", "mart_rep_kpi_monthly"])])

    @dg.multi_asset(specs=[published])
    def publish_stand_in():
        """Stands in for the publish step downstream of the marts."""

    result = dg.materialize(
        [ingest_exports, *(_stand_in(t) for t in MART_TABLES), publish_stand_in, *build_quality_checks("marts")],
        resources={"salesdw": SalesdwResource(data_dir=str(data_dir))},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    return result


def test_a_failed_run_posts_its_failed_checks_and_suspect_files(tmp_path, monkeypatch, webhook):
    url, received = webhook
    monkeypatch.setenv("SALESDW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SALESDW_ALERT_WEBHOOK_URL", url)
    monkeypatch.delenv("SALESDW_ALERT_SMTP_HOST", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        result = _failed_run(tmp_path, instance)
        [failure] = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        context = dg.build_run_status_sensor_context(
            sensor_name="failure_alert_sensor",
            dagster_event=failure.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
        ).for_run_failure()
        failure_alert_sensor(context)
    [(content_type, alert)] = received
    assert content_type.startswith("application/json")
    assert alert["run_id"] == result.run_id
    assert {(c["asset"], c["check"], c["severity"]) for c in alert["failed_checks"]} == {
        ("marts/mart_rep_kpi_monthly", "rates_within_0_1", "ERROR"),
        ("raw/accounts", "files_accepted", "WARN"),
        ("raw/accounts", "rows_not_quarantined", "WARN"),
    }
    suspects = {Path(f["path"]).name: f["reason"] for f in alert["suspect_files"]}
    assert set(suspects) == {"accounts_1.csv", "accounts_2.csv"}
    assert suspects["accounts_2.csv"].startswith("rejected: ") and "account_name" in suspects["accounts_2.csv"]
    assert suspects["accounts_1.csv"].startswith("1 rows quarantined (")
    assert "- marts/mart_rep_kpi_monthly rates_within_0_1 [ERROR]" in alert["text"]


def test_no_channel_configured_skips(tmp_path, monkeypatch):
    monkeypatch.delenv("SALESDW_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SALESDW_ALERT_SMTP_HOST", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        run = instance.create_run_for_job(dg.GraphDefinition("g").to_job())
        event = dg.DagsterEvent(event_type_value="PIPELINE_FAILURE", job_name="g", message="boom")
        context = dg.build_run_status_sensor_context(
            sensor_name="failure_alert_sensor", dagster_event=event, dagster_instance=instance, dagster_run=run
        ).for_run_failure()
        assert isinstance(failure_alert_sensor(context), dg.SkipReason)
