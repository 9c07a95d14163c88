"""`lookup:` in a source (ingestion/lookup.py): a two-file lead funnel (leads + closed deals keyed
by the lead id) through a YAML profile alone; duplicate keys, absent files and bad lookups."""

from __future__ import annotations

import csv

import duckdb
import pytest

from ingestion.ledger import read_ledger
from ingestion.loader import LOADED, REJECTED, ingest
from ingestion.profile import ProfileError, load_profile

PROFILE = """
name: funnel
entities:
  leads:
    files: ["qualified_leads.csv"]
    lookup:
      - file: "closed_deals*.csv"
        key: {"Lead ID": "Lead Ref"}
        columns: {"Deal ID": deal_id, "Closed On": closed_on}
    columns:
      lead_id: "Lead ID"
      created_at: Created
      lead_source: {const: web}
      status: {expr: "case when deal_id is not null then 'converted' else 'qualified' end"}
      converted_opportunity_id: deal_id
      converted_at: closed_on
"""
LEADS = [["Lead ID", "Created"]] + [[f"L{i}", f"2024-0{i}-01 09:00:00"] for i in range(1, 6)]
DEALS = [
    ["Deal ID", "Lead Ref", "Closed On"],
    ["D1", "L2", "2024-06-01 10:00:00"],
    ["D2", " L4 ", "2024-07-01 11:00:00"],
    ["D9", "L99", "2024-08-01 12:00:00"],
]


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def run(tmp_path, deals=DEALS, profile=PROFILE):
    landing = tmp_path / "landing"
    landing.mkdir()
    (tmp_path / "funnel.yml").write_text(profile, encoding="utf-8")
    write(landing / "qualified_leads.csv", LEADS)
    if deals is not None:
        write(landing / "closed_deals.csv", deals)
    result = ingest(landing, load_profile(tmp_path / "funnel.yml"), tmp_path / "raw", tmp_path / "quality")
    return result.files[0], read_ledger(tmp_path / "quality").iloc[0]


def raw_leads(tmp_path):
    glob = str(tmp_path / "raw" / "leads" / "*.parquet")
    with duckdb.connect() as con:
        return con.sql(
            f"select lead_id, status, converted_opportunity_id, strftime(converted_at, '%Y-%m-%d') "
            f"from read_parquet('{glob}') order by lead_id"
        ).fetchall()


def test_two_file_funnel_converts_the_leads_with_a_closed_deal(tmp_path):
    outcome, ledger = run(tmp_path)
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded) == (LOADED, 5, 5)
    # By hand from DEALS: L2 and L4 (padded with spaces) closed; D9 points to no lead.
    assert raw_leads(tmp_path) == [
        ("L1", "qualified", None, None),
        ("L2", "converted", "D1", "2024-06-01"),
        ("L3", "qualified", None, None),
        ("L4", "converted", "D2", "2024-07-01"),
        ("L5", "qualified", None, None),
    ]
    assert ledger["lookup_files"].startswith("closed_deals.csv (sha256 ")
    assert ledger["lookup_files"].endswith(": fed 2 of 5 rows on Lead ID")


def test_duplicate_lookup_key_rejects_the_dependent_file(tmp_path):
    outcome, ledger = run(tmp_path, DEALS + [["D3", "L2", "2024-09-01 00:00:00"]])
    assert outcome.status == REJECTED and ledger["status"] == REJECTED
    assert outcome.error == (
        "qualified_leads.csv: lookup closed_deals*.csv: key Lead Ref is not unique ('L2' appears 2 times)"
    )
    assert not (tmp_path / "raw" / "leads").exists()


def test_absent_lookup_file_leaves_the_columns_null_and_the_ledger_says_so(tmp_path):
    outcome, ledger = run(tmp_path, deals=None)
    assert (outcome.status, outcome.rows_loaded) == (LOADED, 5)
    assert {r[1:] for r in raw_leads(tmp_path)} == {("qualified", None, None)}
    assert ledger["lookup_files"] == "closed_deals*.csv: absent, deal_id, closed_on NULL"


def test_lookup_file_lacking_a_column_rejects_the_dependent_file(tmp_path):
    outcome, _ = run(tmp_path, [["Deal ID", "Lead", "Closed On"], ["D1", "L2", "2024-06-01 10:00:00"]])
    assert outcome.status == REJECTED
    assert "lookup file closed_deals.csv has no column 'Lead Ref'" in outcome.error


def test_lookup_key_missing_from_the_file_rejects_it(tmp_path):
    outcome, _ = run(tmp_path, profile=PROFILE.replace('{"Lead ID": "Lead Ref"}', '{"Lead Key": "Lead Ref"}'))
    assert outcome.status == REJECTED and "'Lead Key' (the key of lookup closed_deals*.csv)" in outcome.error


@pytest.mark.parametrize(
    "lookup, message",
    [
        ('{file: "x.csv", columns: [a]}', "lookup.key: must be a column name"),
        ('{file: "../x.csv", key: a, columns: [a]}', "must not leave the landing folder"),
        ('{file: "x.csv", key: a, columns: [b], how: left}', "unknown key 'how'"),
        ("{key: a, columns: [b]}", "lookup.file: must be a file name or glob"),
    ],
)
def test_bad_lookups_fail_when_the_profile_loads(tmp_path, lookup, message):
    path = tmp_path / "bad.yml"
    path.write_text(
        PROFILE.replace(
            """    lookup:
      - file: "closed_deals*.csv"
        key: {"Lead ID": "Lead Ref"}
        columns: {"Deal ID": deal_id, "Closed On": closed_on}""",
            f"    lookup: {lookup}",
        ),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="entities.leads.lookup") as err:
        load_profile(path)
    assert message in str(err.value)


def test_check_profile_counts_looked_up_columns_as_present(tmp_path):
    from typer.testing import CliRunner

    from orchestration.cli import app

    landing = tmp_path / "landing"
    landing.mkdir()
    (tmp_path / "funnel.yml").write_text(PROFILE, encoding="utf-8")
    write(landing / "qualified_leads.csv", LEADS)
    out = CliRunner().invoke(
        app, ["check-profile", str(tmp_path / "funnel.yml"), "--landing", str(landing)], terminal_width=200
    )
    assert out.exit_code == 0, out.output
    lines = {line.split("│")[1].strip(): line for line in out.output.splitlines() if line.count("│") >= 3}
    assert "present" in lines["converted_opportunity_id"] and "present" in lines["status"]
