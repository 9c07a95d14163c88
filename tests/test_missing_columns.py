"""The missing-column rule (exports.md, "Bad input"): a Salesforce export holding only the fields
that required canonical columns need loads every row, its ledger rows name what was missing, a
missing required column still rejects the file, and `check-profile --landing` shows it per file."""

from __future__ import annotations

import csv

import duckdb
import pytest
from typer.testing import CliRunner

from ingestion.ledger import read_ledger
from ingestion.loader import LOADED, REJECTED, ingest
from orchestration.cli import app
from orchestration.quality.suites import LEDGER_TABLE, load_suite

T = "2024-03-05T10:00:00.000Z"
# Object -> (header, rows): only the fields the profile's required canonical columns read.
# LeadSource (default `unknown`) and Event.Type (default `meeting`) are left out on purpose; the
# order has Status but no StatusCode (the fallback).
MINIMAL = {
    "UserRole.csv": (["Id"], [["00E1"], ["00E2"]]),
    "User.csv": (["Id", "UserRoleId"], [["0051", "00E1"], ["0052", "00E2"]]),
    "Account.csv": (["Id", "Name", "CreatedDate"], [["0011", "Acme", T], ["0012", "Beta", T]]),
    "Contact.csv": (["Id", "AccountId"], [["0031", "0011"], ["0032", "0012"]]),
    "Lead.csv": (
        ["Id", "CreatedDate", "IsConverted", "Status"],
        [["00Q1", T, "false", "Working - Contacted"], ["00Q2", T, "true", "Qualified"]],
    ),
    "Opportunity.csv": (
        ["Id", "OwnerId", "IsWon", "IsClosed", "StageName"],
        [["0061", "0051", "true", "true", "Closed Won"], ["0062", "0052", "false", "false", "Prospecting"]],
    ),
    "OpportunityHistory.csv": (
        ["OpportunityId", "StageName", "CreatedDate"],
        [["0061", "Prospecting", T], ["0061", "Closed Won", T]],
    ),
    "Task.csv": (
        ["Id", "OwnerId", "TaskSubtype", "Type", "CompletedDateTime", "CreatedDate"],
        [["00T1", "0051", "Call", "", T, T], ["00T2", "0052", "Task", "Meeting", "", T]],
    ),
    "Event.csv": (
        ["Id", "OwnerId", "ActivityDateTime", "ActivityDate"],
        [["00U1", "0051", T, ""], ["00U2", "0052", "", "2024-03-06"]],
    ),
    "Case.csv": (
        ["Id", "AccountId", "CreatedDate", "Type"],
        [["5001", "0011", T, "Problem"], ["5002", "0012", T, "Question"]],
    ),
    "Product2.csv": (["Id", "Name"], [["01t1", "Widget"], ["01t2", "Gadget"]]),
    "Order.csv": (
        ["Id", "AccountId", "EffectiveDate", "Status"],
        [["8011", "0011", "2024-03-05", "Activated"], ["8012", "0012", "2024-03-06", "Draft"]],
    ),
    "OrderItem.csv": (
        ["OrderId", "OrderItemNumber", "Product2Id", "Quantity", "UnitPrice"],
        [["8011", "0000000001", "01t1", "2", "10.5"], ["8012", "0000000002", "01t2", "1", "3"]],
    ),
}


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])


@pytest.fixture(scope="module")
def minimal_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("sf_minimal")
    landing = root / "landing" / "salesforce"
    for name, (header, rows) in MINIMAL.items():
        write_csv(landing / name, header, rows)
    result = ingest(landing, "salesforce", root / "raw", root / "quality")
    return root, landing, result


def test_every_row_of_every_object_loads(minimal_export):
    _, _, result = minimal_export
    by_file = {f.file_path: f for f in result.files}
    assert set(by_file) == set(MINIMAL)
    for name, (_, rows) in MINIMAL.items():
        outcome = by_file[name]
        assert (outcome.status, outcome.rows_loaded, outcome.rows_quarantined) == (LOADED, len(rows), 0), outcome


def test_ledger_names_the_missing_columns(minimal_export):
    root, _, _ = minimal_export
    ledger = read_ledger(root / "quality").set_index("file_path")["missing_columns"]
    account = ledger["Account.csv"].split("; ")
    assert "BillingState (region)" in account and "Industry (industry)" in account
    assert "LeadSource (lead_source)" in ledger["Lead.csv"]
    assert "Type (activity_type)" in ledger["Event.csv"]
    assert "StatusCode" not in (ledger["Order.csv"] or "")  # Status stood in for it
    assert ledger["UserRole.csv"] == "Name (team_name); ForecastUserId (manager_rep_id)"


def test_missing_columns_read_null_and_fallbacks_and_defaults_apply(minimal_export):
    root, _, _ = minimal_export
    with duckdb.connect() as con:

        def rows(entity, cols):
            glob = str(root / "raw" / entity / "*.parquet")
            return con.sql(f"select {cols} from read_parquet('{glob}') order by 1").fetchall()

        assert rows("accounts", "account_id, region, industry") == [("0011", None, None), ("0012", None, None)]
        assert rows("orders", "order_id, status") == [("8011", "completed"), ("8012", "pending")]
        assert rows("leads", "lead_id, lead_source, status") == [
            ("00Q1", "unknown", "working"),
            ("00Q2", "unknown", "converted"),
        ]
        assert {r[1] for r in rows("activities", "activity_id, activity_type") if r[0].startswith("00U")} == {"meeting"}


def test_a_missing_required_column_still_rejects_the_file(tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "Order.csv", ["Id", "AccountId", "Status"], [["8011", "0011", "Activated"]])
    write_csv(landing / "Account.csv", ["Id", "Name", "CreatedDate"], [["0011", "Acme", T]])
    result = ingest(landing, "salesforce", tmp_path / "raw", tmp_path / "quality")
    by_file = {f.file_path: f for f in result.files}
    assert by_file["Order.csv"].status == REJECTED
    assert (
        "Order.csv" in by_file["Order.csv"].error
        and "'EffectiveDate' (mapped to order_date)" in by_file["Order.csv"].error
    )
    assert by_file["Account.csv"].status == LOADED


def test_check_profile_prints_present_and_missing_per_file(tmp_path):
    write_csv(tmp_path / "Order.csv", ["Id", "AccountId", "Status", "Type"], [["8011", "0011", "Activated", "x"]])
    out = CliRunner().invoke(app, ["check-profile", "salesforce", "--landing", str(tmp_path)], terminal_width=200)
    assert out.exit_code == 0, out.output
    lines = {line.split("│")[1].strip(): line for line in out.output.splitlines() if line.count("│") >= 3}
    assert "present" in lines["order_id"] and "present" in lines["status"] and "present" in lines["channel"]
    assert "missing-required" in lines["order_date"]
    assert "missing-optional" in lines["rep_id"]


def test_warning_check_reports_files_missing_columns(minimal_export):
    root, _, _ = minimal_export
    check = next(c for c in load_suite("raw") if c.name == "source_columns_present" and c.table == "raw.accounts")
    assert (check.severity, check.batch_table) == ("warn", LEDGER_TABLE) and check.why
    query = check.expectations[0].kwargs["unexpected_rows_query"].replace("{batch}", "ledger")
    with duckdb.connect() as con:
        con.register("ledger", read_ledger(root / "quality"))
        assert [r[0] for r in con.sql(query).fetchall()] == ["Account.csv"]


def test_the_profiles_readme_example_holds(tmp_path):
    """ingestion/profiles/README.md, "Missing columns": its Data Loader file loads as it says, and
    without CreatedDate it is rejected with the reason it quotes."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "ingestion" / "profiles" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Missing columns") : readme.index("## Lookups across files")]
    export = re.search(r"A Data Loader export of four fields\n\n```\n(.*?)```", section, re.S).group(1)
    said = " ".join(re.search(r"`missing_columns: (.*?)`", section, re.S).group(1).split())
    rejected = re.search(r"loaded: `(Account\.csv: missing column .*?)`", section, re.S).group(1)
    without_created = "".join(line.rsplit(",", 1)[0] + "\n" for line in export.splitlines())  # the last field
    for name, text in (("whole", export), ("cut", without_created)):
        landing = tmp_path / name / "landing"
        landing.mkdir(parents=True)
        (landing / "Account.csv").write_text(text, encoding="utf-8")
        (outcome,) = ingest(landing, "salesforce", tmp_path / name / "raw", tmp_path / name / "q").files
        if name == "whole":
            assert (outcome.status, outcome.rows_loaded) == (LOADED, 2)
            assert read_ledger(tmp_path / name / "q").iloc[0]["missing_columns"] == said
        else:
            assert (outcome.status, outcome.error) == (REJECTED, rejected)
