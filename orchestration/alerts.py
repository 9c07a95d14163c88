"""Failure alerts: when a run fails, tell the data engineer which checks failed and which files to suspect.

A run-failure sensor (`failure_alert_sensor`, in the daemon of `dagster dev` or a production
instance) gathers the failed run's facts from the instance and the ledger, composes one message
(`compose_alert`, a pure function) and sends it to whatever the environment configures:

    SALESDW_ALERT_WEBHOOK_URL     JSON POST of the alert (Slack/Teams/Feishu-style incoming webhooks
                                  read its `text`; other tools read the fields)
    SALESDW_ALERT_SMTP_HOST       e-mail through this SMTP server (with SALESDW_ALERT_EMAIL_TO);
    SALESDW_ALERT_SMTP_PORT       optional: SALESDW_ALERT_SMTP_PORT (25), SALESDW_ALERT_SMTP_USER,
    ...                           SALESDW_ALERT_SMTP_PASSWORD, SALESDW_ALERT_SMTP_STARTTLS=1,
                                  SALESDW_ALERT_EMAIL_FROM (salesdw@localhost)

Nothing configured: the sensor skips, saying so. docs/operations.md describes the set-up.
"""

from __future__ import annotations

import json
import os
import smtplib
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pandas as pd

# Seconds before a webhook or SMTP server that does not answer is given up on: the sensor tick
# must not hang on an alerting outage.
SEND_TIMEOUT_SECONDS = 10
# Bounds of a message: a run with thousands of failures still makes a readable alert.
MAX_LISTED = 20
# The landing sensor's run tag naming the new files of a sensor-started run.
NEW_FILES_TAG = "salesdw/new_file_names"


@dataclass(frozen=True)
class SuspectFile:
    path: str
    reason: str  # "rejected: <error>" or "<n> rows quarantined (<quarantine file>)"


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job_name: str
    error: str  # the run's failure message
    failed_checks: list[tuple[str, str, str]] = field(default_factory=list)  # asset, check, severity
    failed_steps: list[str] = field(default_factory=list)
    suspect_files: list[SuspectFile] = field(default_factory=list)
    new_files: str | None = None  # the landing sensor's tag, when the sensor started the run


def compose_alert(run: FailedRun, *, ui_url: str | None = None) -> dict:
    """The alert as a JSON-ready dict: `subject`, `text` (the readable message) and the facts."""
    subject = f"salesdw: run {run.run_id[:8]} of {run.job_name} failed"
    lines = [subject + ".", f"Error: {run.error}" if run.error else "Error: (no message)"]
    if run.failed_steps:
        lines.append("Failed steps: " + ", ".join(run.failed_steps[:MAX_LISTED]) + _more(run.failed_steps))
    lines.append(f"Failed checks ({len(run.failed_checks)}):" if run.failed_checks else "Failed checks: none")
    lines += [f"- {asset} {check} [{severity}]" for asset, check, severity in run.failed_checks[:MAX_LISTED]]
    lines += [_more(run.failed_checks).strip()] if len(run.failed_checks) > MAX_LISTED else []
    lines.append(f"Suspect files ({len(run.suspect_files)}):" if run.suspect_files else "Suspect files: none")
    lines += [f"- {f.path}: {f.reason}" for f in run.suspect_files[:MAX_LISTED]]
    lines += [_more(run.suspect_files).strip()] if len(run.suspect_files) > MAX_LISTED else []
    if run.new_files:
        lines.append(f"New files of the run: {run.new_files}")
    if ui_url:
        lines.append(f"Run: {ui_url.rstrip('/')}/runs/{run.run_id}")
    return {
        "subject": subject,
        "text": "\n".join(lines),
        "run_id": run.run_id,
        "job_name": run.job_name,
        "error": run.error,
        "failed_steps": run.failed_steps,
        "failed_checks": [{"asset": a, "check": c, "severity": s} for a, c, s in run.failed_checks],
        "suspect_files": [{"path": f.path, "reason": f.reason} for f in run.suspect_files],
        "new_files": run.new_files,
    }


def _more(items: list) -> str:
    return f" … and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""


def suspect_files(ledger: pd.DataFrame, quarantine_dir: Path) -> list[SuspectFile]:
    """The run's ledger rows worth a look: rejected files, and files with quarantined rows."""
    suspects = []
    for row in ledger.itertuples():
        if row.status == "rejected":
            suspects.append(SuspectFile(row.file_path, f"rejected: {row.error}"))
        elif row.status == "loaded" and (row.rows_quarantined or 0) > 0:
            suspects.append(
                SuspectFile(
                    row.file_path,
                    f"{row.rows_quarantined} rows quarantined ({Path(quarantine_dir) / f'{row.batch_id}.parquet'})",
                )
            )
    return suspects


def gather(instance: dg.DagsterInstance, dagster_run: dg.DagsterRun, error: str, quality_dir: Path) -> FailedRun:
    """The failed run's facts: its failed checks and steps from the event log, its suspect files
    from the ledger rows written while it ran (the ledger has no run id; the run's start time bounds them)."""
    from ingestion.ledger import quarantine_dir, read_ledger

    failed_checks, failed_steps = [], []
    for record in instance.all_logs(dagster_run.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            evaluation = event.event_specific_data
            failed_checks.append(
                (
                    evaluation.asset_key.to_user_string(),
                    evaluation.check_name,
                    str(getattr(evaluation.severity, "value", evaluation.severity)),
                )
            )
        elif event.event_type_value == "STEP_FAILURE":
            failed_steps.append(event.step_key)
    ledger = read_ledger(quality_dir)
    stats = instance.get_run_stats(dagster_run.run_id)
    if not ledger.empty and stats.start_time is not None:
        started = pd.Timestamp(stats.start_time, unit="s")  # UTC, as the ledger
        ledger = ledger[pd.to_datetime(ledger.started_at) >= started]
    return FailedRun(
        run_id=dagster_run.run_id,
        job_name=dagster_run.job_name,
        error=error,
        failed_checks=failed_checks,
        failed_steps=failed_steps,
        suspect_files=suspect_files(ledger, quarantine_dir(quality_dir)),
        new_files=dagster_run.tags.get(NEW_FILES_TAG),
    )


def send_webhook(url: str, alert: dict) -> int:
    """POST the alert as JSON; the HTTP status (an HTTP error raises)."""
    request = urllib.request.Request(
        url, data=json.dumps(alert).encode(), method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310 - configured URL
        return response.status


def email_message(alert: dict, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = alert["subject"], sender, ", ".join(recipients)
    message.set_content(alert["text"])
    return message


def send_email(env: dict[str, str], alert: dict) -> None:
    recipients = [r.strip() for r in env.get("SALESDW_ALERT_EMAIL_TO", "").split(",") if r.strip()]
    if not recipients:
        raise ValueError("SALESDW_ALERT_SMTP_HOST is set but SALESDW_ALERT_EMAIL_TO names no recipient")
    message = email_message(alert, env.get("SALESDW_ALERT_EMAIL_FROM", "salesdw@localhost"), recipients)
    port = int(env.get("SALESDW_ALERT_SMTP_PORT", "25"))
    with smtplib.SMTP(env["SALESDW_ALERT_SMTP_HOST"], port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
        if env.get("SALESDW_ALERT_SMTP_STARTTLS") == "1":
            smtp.starttls()
        if env.get("SALESDW_ALERT_SMTP_USER"):
            smtp.login(env["SALESDW_ALERT_SMTP_USER"], env.get("SALESDW_ALERT_SMTP_PASSWORD", ""))
        smtp.send_message(message)


@dg.run_failure_sensor(
    name="failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts a failed run's failed checks and suspect files to SALESDW_ALERT_WEBHOOK_URL "
    "and/or e-mails them through SALESDW_ALERT_SMTP_HOST (orchestration/alerts.py).",
)
def failure_alert_sensor(context: dg.RunFailureSensorContext):
    from orchestration.settings import get_settings

    env = dict(os.environ)
    webhook, smtp_host = env.get("SALESDW_ALERT_WEBHOOK_URL"), env.get("SALESDW_ALERT_SMTP_HOST")
    if not webhook and not smtp_host:
        return dg.SkipReason("no alert channel configured (SALESDW_ALERT_WEBHOOK_URL, SALESDW_ALERT_SMTP_HOST)")
    run = gather(context.instance, context.dagster_run, context.failure_event.message or "", get_settings().quality_dir)
    alert = compose_alert(run, ui_url=env.get("SALESDW_UI_URL"))
    # Both channels are tried before an error surfaces: a broken webhook must not swallow the e-mail.
    errors = []
    for channel, send in (
        ("webhook", lambda: send_webhook(webhook, alert) if webhook else None),
        ("e-mail", lambda: send_email(env, alert) if smtp_host else None),
    ):
        try:
            send()
        except Exception as error:  # noqa: BLE001 - reported below, with the channel
            errors.append(f"{channel}: {error}")
    if errors:
        raise RuntimeError(f"alert for run {run.run_id} not delivered: " + "; ".join(errors))
    context.log.info(
        f"alert sent for run {run.run_id}: {len(run.failed_checks)} failed checks, "
        f"{len(run.suspect_files)} suspect files"
    )
