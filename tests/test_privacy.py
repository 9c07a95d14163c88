"""Privacy: contacts' and leads' e-mails, phone numbers and names never reach the marts, the reports
or the serving warehouse; quarantined rows keep their original text, in the raw zone only.

The personal data to look for is read straight from the demo exports (the CSVs), and every
value (cast to text, through SQL: a search of the file's bytes cannot see compressed strings) of
every table and view of the published warehouse, and every report page, is searched for it, so a
new column, mart or view that leaks it fails here.
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
from tests.support import land_two_contacts

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def export(exports: Path, entity: str) -> pd.DataFrame:
    return pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((exports / entity).glob("*.csv"))]
    )


@pytest.fixture(scope="module")
def personal_data(demo_run) -> dict[str, set[str]]:
    contacts, leads, reps = (export(demo_run.exports, e) for e in ("contacts", "leads", "reps"))
    found = {
        "email": set(contacts.email) | set(leads.email) | set(reps.email),
        "phone": set(contacts.phone),
        # a contact whose name is also a rep's name may appear as that rep: not the contact's data
        "name": set(contacts.full_name) - set(reps.rep_name),
    }
    found = {kind: {v for v in values if v} for kind, values in found.items()}
    assert all(len(v) > 20 for v in found.values()), {k: len(v) for k, v in found.items()}  # real fixtures
    return found


# DuckDB's regular expressions (RE2) have no look-around: a mobile number is bounded by non-digits.
SQL_EMAIL = r"[\w.+-]+@[\w-]+(\.[\w-]+)+"
SQL_CN_MOBILE = r"(^|\D)1[3-9]\d{9}(\D|$)"


def leaks_in(warehouse: Path, personal: dict[str, set[str]]) -> tuple[list[str], list[tuple]]:
    """Search every column of every table and view of the file through SQL, each value cast to
    text (what a reader's query returns, however DuckDB compresses it on disk): a personal value
    equal to it (or, for e-mails and phones, inside it), or anything shaped like one.
    Returns the relations searched and the leaks as (relation, column, kind, value)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{warehouse}' as w (read_only)")
        con.execute("create table secrets (kind varchar, value varchar)")
        con.executemany("insert into secrets values (?, ?)", [(k, v) for k, vs in personal.items() for v in vs])
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = 'w' order by all"
        ).fetchall()
        relations = sorted({(schema, table) for schema, table, _ in columns})
        found = []
        for schema, table in relations:
            values = " union all ".join(
                f'select \'{c}\' as col, cast("{c}" as varchar) as v from w."{schema}"."{table}"'
                for s, t, c in columns
                if (s, t) == (schema, table)
            )
            found += con.execute(
                f"""
                with vals as (select distinct col, v from ({values}) where v is not null)
                select '{schema}.{table}', col, s.kind, v from vals join secrets s
                    on vals.v = s.value or (s.kind <> 'name' and length(s.value) > 6 and contains(vals.v, s.value))
                union all
                select '{schema}.{table}', col, 'pattern', v from vals
                where regexp_matches(v, ?) or regexp_matches(v, ?)""",
                [SQL_EMAIL, SQL_CN_MOBILE],
            ).fetchall()
    return [f"{schema}.{table}" for schema, table in relations], sorted(found)


def test_no_email_phone_or_contact_name_in_any_mart(demo_run, personal_data):
    searched, found = leaks_in(demo_run.warehouse, personal_data)
    assert len([r for r in searched if r.startswith("marts.")]) >= 10  # every mart was searched
    assert [leak for leak in found if leak[0].startswith("marts.")] == []


def test_no_personal_data_in_any_table_or_view_of_the_published_warehouse(demo_run, personal_data):
    """Everything in the serving file (what the BI role reads), views included: a view stores no
    data, but whoever reads it gets the rows of the files it reads."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relations = dict(
            con.execute(
                "select table_schema || '.' || table_name, table_type from information_schema.tables"
            ).fetchall()
        )
    searched, found = leaks_in(demo_run.warehouse, personal_data)
    assert "quality.quarantine" not in relations
    assert relations["quality.ingestion_ledger"] == relations["quality.check_results"] == "BASE TABLE"
    assert sorted(searched) == sorted(relations)  # every table and view was searched
    # the serving file holds the marts and the quality tables only (tests/test_serving_contents.py)
    assert {r.split(".")[0] for r in searched} == {"marts", "quality"}
    assert found == []


def report_tokens(html: str) -> set[str]:
    """The page cut at markup and punctuation: a name in a table cell, a label or the page's
    embedded JSON data is one token."""
    return set(re.split(r"[\s<>\"'=,:;()\[\]{}/|·、，。：；（）]+", html))


def test_no_personal_data_in_the_reports(demo_run, personal_data):
    pages = sorted((demo_run.data_dir / "reports").glob("*.html"))
    assert {p.name for p in pages} >= {"sales_report.html", "sales_report.zh.html", "data_quality.html"}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        tokens = report_tokens(html)
        for kind, secrets in personal_data.items():
            assert not [s for s in secrets if s in html and (kind != "name" or len(s) >= 3)], (page.name, kind)
            # 2-character Chinese names may occur inside ordinary words of the zh page: whole tokens only
            assert not [s for s in secrets if s in tokens], (page.name, kind)
        assert not CN_MOBILE.search(html), page.name
        assert not EMAIL.search(html), page.name


def test_quarantined_personal_data_stays_in_the_raw_zone_and_is_not_published(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    landing = land_two_contacts(settings.landing_dir)  # C2 has no account: quarantined
    (result,) = ingest(landing, "canonical", settings.raw_dir, settings.quality_dir).files
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    # The quarantine keeps the original text, for the people who fix the export...
    with duckdb.connect() as con:
        [(record,)] = con.execute(
            f"select raw_record from read_parquet('{settings.quality_dir}/quarantine/*.parquet')"
        ).fetchall()
    assert "lei.li@example.cn" in record and "13887654321" in record
    # ...and a publish (marts built, audit passed) carries none of it to the serving warehouse.
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 1 as id")
    stamp_passing_audit(settings, "run-privacy")
    publish(settings, "run-privacy")
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        quality = {
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'quality'"
            ).fetchall()
        }
        assert con.execute("select status, rows_quarantined from quality.ingestion_ledger").fetchall() == [
            ("loaded", 1)
        ]
    assert quality == {"ingestion_ledger", "check_results"}
    # the quarantined row's values, searched through SQL in every table and view of the file (the
    # loaded row, C1, is the raw zone's: what the raw views show is the business of the test above)
    searched, found = leaks_in(
        settings.serving_warehouse, {"email": {"lei.li@example.cn"}, "phone": {"13887654321"}, "name": {"Li Lei"}}
    )
    found = [leak for leak in found if leak[2] != "pattern" or "lei.li" in leak[3] or "13887654321" in leak[3]]
    assert "marts.mart_demo" in searched and found == []
