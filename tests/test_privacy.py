"""Privacy: contacts' and leads' e-mails, phone numbers and names never reach the marts, the reports
or the serving warehouse; quarantined rows keep their original text, in the raw zone only.

The personal data to look for is read straight from the demo exports (the CSVs), and every
text value of every mart, every table of the published warehouse and every report page is
searched for it, so a new column or mart that leaks it fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.loader import ingest
from orchestration.publish import publish
from orchestration.settings import get_settings
from tests.quality_support import stamp_passing_audit

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def export(exports: Path, entity: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((exports / entity).glob("*.csv"))])


@pytest.fixture(scope="module")
def personal_data(demo_run) -> dict[str, set[str]]:
    contacts, leads, reps = (export(demo_run.exports, e) for e in ("contacts", "leads", "reps"))
    found = {
        "email": set(contacts.email) | set(leads.email),
        "phone": set(contacts.phone),
        # a contact whose name is also a rep's name may appear as that rep: not the contact's data
        "name": set(contacts.full_name) - set(reps.rep_name),
    }
    found = {kind: {v for v in values if v} for kind, values in found.items()}
    assert all(len(v) > 20 for v in found.values()), {k: len(v) for k, v in found.items()}  # real fixtures
    return found


def text_values(con, schema_filter: str) -> dict[str, set[str]]:
    """Every distinct text value of every table and view matching the filter, by relation."""
    columns = con.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
        f"where c.data_type = 'VARCHAR' and {schema_filter}").fetchall()
    values: dict[str, set[str]] = {}
    for schema, table, column in columns:
        rows = con.execute(f'select distinct "{column}" from "{schema}"."{table}" where "{column}" is not null').fetchall()
        values.setdefault(f"{schema}.{table}", set()).update(v for (v,) in rows)
    return values


def leaks(texts: dict[str, set[str]], personal: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    found = []
    for where, values in texts.items():
        for value in values:
            for kind, secrets in personal.items():
                if value in secrets or (kind != "name" and any(s in value for s in secrets if len(s) > 6)):
                    found.append((where, kind, value))
            if EMAIL.search(value) or CN_MOBILE.search(value):
                found.append((where, "pattern", value))
    return found


def test_no_email_phone_or_contact_name_in_any_mart(demo_run, personal_data):
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        texts = text_values(con, "c.table_schema = 'marts'")
    assert len(texts) >= 10  # every mart was searched
    assert leaks(texts, personal_data) == []


def test_no_personal_data_in_the_published_warehouse_beyond_the_raw_zone_views(demo_run, personal_data):
    """Everything in the serving file (what the BI role reads) but the raw and staging views, which
    store no data and read the raw zone's Parquet files (operators only): marts, seeds, every
    intermediate table and view, the staging tables (macros/stored_staging.sql), the frozen ledger
    and check results."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relations = dict(con.execute("select table_schema || '.' || table_name, table_type "
                                     "from information_schema.tables").fetchall())
        texts = text_values(con, "not (c.table_schema in ('raw', 'staging') and exists ("
                                 "select 1 from information_schema.views v where v.table_schema = "
                                 "c.table_schema and v.table_name = c.table_name))")
    assert "quality.quarantine" not in relations
    assert relations["quality.ingestion_ledger"] == relations["quality.check_results"] == "BASE TABLE"
    # the serving file holds the marts and the quality tables only (tests/test_serving_contents.py)
    assert {name.split(".")[0] for name in relations} == {"marts", "quality"}
    assert {"marts", "quality"} <= {w.split(".")[0] for w in texts}
    assert leaks(texts, personal_data) == []


def test_no_personal_data_in_the_reports(demo_run, personal_data):
    pages = sorted((demo_run.data_dir / "reports").glob("*.html"))
    assert {p.name for p in pages} >= {"sales_report.html", "sales_report.zh.html", "data_quality.html"}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for kind, secrets in personal_data.items():
            if kind == "name":
                continue  # 2-character Chinese names occur inside ordinary words of the zh page
            assert not [s for s in secrets if s in html], (page.name, kind)
        assert not CN_MOBILE.search(html), page.name


def test_quarantined_personal_data_stays_in_the_raw_zone_and_is_not_published(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    contacts = settings.landing_dir / "canonical" / "contacts"
    contacts.mkdir(parents=True)
    (contacts / "c.csv").write_text(
        "contact_id,account_id,full_name,email,phone,title,created_at\n"
        "C1,A1,Wang Fang,fang.wang@example.cn,13912345678,CFO,2024-01-02 10:00:00\n"
        "C2,,Li Lei,lei.li@example.cn,13887654321,CEO,2024-01-03 10:00:00\n")  # no account: quarantined
    (result,) = ingest(contacts.parent, "canonical", settings.raw_dir, settings.quality_dir).files
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    # The quarantine keeps the original text, for the people who fix the export...
    with duckdb.connect() as con:
        [(record,)] = con.execute(f"select raw_record from read_parquet('{settings.quality_dir}/quarantine/*.parquet')").fetchall()
    assert "lei.li@example.cn" in record and "13887654321" in record
    # ...and a publish (marts built, audit passed) carries none of it to the serving warehouse.
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 1 as id")
    stamp_passing_audit(settings, "run-privacy")
    publish(settings, "run-privacy")
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        quality = {t for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'quality'").fetchall()}
        assert con.execute("select status, rows_quarantined from quality.ingestion_ledger").fetchall() == [("loaded", 1)]
    assert quality == {"ingestion_ledger", "check_results"}
    stored = settings.serving_warehouse.read_bytes()
    assert b"lei.li@example.cn" not in stored and b"13887654321" not in stored
