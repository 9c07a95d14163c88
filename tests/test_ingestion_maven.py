"""The real Maven CRM sample through the `maven_crm` profile, checked against numbers computed here
straight from the CSVs with the csv module, then through dbt's staging layer."""

import csv
from collections import Counter
from datetime import datetime
from decimal import Decimal

import duckdb
import pytest

from ingestion.ledger import read_ledger
from ingestion.loader import ingest
from tests.conftest import shared_path
from tests.support import build_warehouse, query


def read_csv(name: str) -> list[dict]:
    with open(shared_path("datasets", "maven_crm", name), newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def maven(tmp_path_factory):
    folder = shared_path("datasets", "maven_crm")
    data_dir = tmp_path_factory.mktemp("maven_ingest")
    result = ingest(folder, "maven_crm", data_dir / "raw", data_dir / "quality")
    return data_dir, result


def raw(data_dir, entity: str, sql: str):
    with duckdb.connect() as con:
        con.execute(f"create view t as select * from read_parquet('{data_dir}/raw/{entity}/*.parquet')")
        return con.execute(sql).fetchall()


def test_every_file_loads_and_every_row_is_accounted_for(maven):
    data_dir, result = maven
    assert sorted((f.file_path, f.entity, f.status) for f in result.files) == [
        ("accounts.csv", "accounts", "loaded"),
        ("products.csv", "products", "loaded"),
        ("sales_pipeline.csv", "opportunities", "loaded"),
        ("sales_teams.csv", "reps", "loaded"),
        ("sales_teams.csv", "teams", "loaded"),
    ]
    assert result.rows_quarantined == 0
    ledger = read_ledger(data_dir / "quality")
    assert (ledger.rows_read == ledger.rows_loaded + ledger.rows_quarantined).all()
    assert not (data_dir / "quality" / "quarantine").exists()


def test_opportunities_match_the_pipeline_csv(maven):
    data_dir, _ = maven
    pipeline = read_csv("sales_pipeline.csv")
    assert raw(data_dir, "opportunities", "select count(*), count(distinct opportunity_id) from t") == [
        (len(pipeline), len(pipeline))
    ]
    assert len(pipeline) == 8800

    won_per_agent = Counter(r["sales_agent"] for r in pipeline if r["deal_stage"] == "Won")
    got = dict(
        raw(data_dir, "opportunities", "select owner_rep_id, count(*) from t where stage = 'closed_won' group by 1")
    )
    assert got == dict(won_per_agent)

    blank_accounts = sum(1 for r in pipeline if r["account"] == "")
    assert raw(data_dir, "opportunities", "select count(*) from t where account_id is null") == [(blank_accounts,)]
    assert blank_accounts == 1425

    stage_map = {"Prospecting": "prospecting", "Engaging": "qualification", "Won": "closed_won", "Lost": "closed_lost"}
    expected_stages = Counter(stage_map[r["deal_stage"]] for r in pipeline)
    assert dict(raw(data_dir, "opportunities", "select stage, count(*) from t group by 1")) == dict(expected_stages)

    won_amount = sum(Decimal(r["close_value"]) for r in pipeline if r["deal_stage"] == "Won")
    assert raw(data_dir, "opportunities", "select sum(amount) from t where stage = 'closed_won'") == [(won_amount,)]
    no_engage_date = sum(1 for r in pipeline if r["engage_date"] == "")
    assert raw(data_dir, "opportunities", "select count(*) from t where created_at is null") == [(no_engage_date,)]

    first = pipeline[0]
    assert raw(
        data_dir,
        "opportunities",
        f"select created_at, close_date, _row_number from t where opportunity_id = '{first['opportunity_id']}'",
    ) == [(datetime.fromisoformat(first["engage_date"]), datetime.fromisoformat(first["close_date"]).date(), 1)]


def test_products_join_after_gtxpro_is_normalised(maven):
    data_dir, _ = maven
    products = {r["product"] for r in read_csv("products.csv")}
    pipeline_products = Counter(r["product"] for r in read_csv("sales_pipeline.csv"))
    assert "GTXPro" in pipeline_products and "GTXPro" not in products  # the quirk this profile fixes
    loaded_products = {p for (p,) in raw(data_dir, "products", "select product_id from t")}
    assert loaded_products == products
    per_product = dict(raw(data_dir, "opportunities", "select product_id, count(*) from t group by 1"))
    assert set(per_product) <= products
    assert per_product["GTX Pro"] == pipeline_products["GTXPro"] + pipeline_products.get("GTX Pro", 0)


def test_reps_and_teams_from_sales_teams_csv(maven):
    data_dir, _ = maven
    agents = read_csv("sales_teams.csv")
    assert raw(data_dir, "reps", "select count(*) from t") == [(len(agents),)] == [(35,)]
    assert {(r, t, g) for r, t, g in raw(data_dir, "reps", "select rep_id, team_id, region from t")} == {
        (a["sales_agent"], a["manager"], a["regional_office"]) for a in agents
    }
    managers = {(a["manager"], a["regional_office"]) for a in agents}
    assert sorted(raw(data_dir, "teams", "select team_id, region from t")) == sorted(managers)
    assert len(managers) == 6


def test_accounts_keep_their_data_and_start_on_january_first(maven):
    data_dir, _ = maven
    accounts = read_csv("accounts.csv")
    loaded = {
        a: (industry, created)
        for a, industry, created in raw(data_dir, "accounts", "select account_id, industry, created_at from t")
    }
    assert len(loaded) == len(accounts)
    for row in accounts:
        assert loaded[row["account"]] == (row["sector"], datetime(int(row["year_established"]), 1, 1))
    assert any(industry == "technolgy" for industry, _ in loaded.values())  # stays as the data says


def test_staging_builds_on_the_maven_raw_zone(maven):
    data_dir, _ = maven
    pipeline = read_csv("sales_pipeline.csv")
    warehouse = build_warehouse(data_dir, select="stg_opportunities stg_reps stg_teams stg_accounts stg_products")
    assert query(warehouse, "select count(*), count(account_id) from staging.stg_opportunities") == [
        (len(pipeline), sum(1 for r in pipeline if r["account"]))
    ]
    assert query(warehouse, "select count(*) from staging.stg_reps") == [(35,)]
    assert query(warehouse, "select count(*) from staging.stg_teams") == [(6,)]
    assert query(warehouse, "select count(*) from quality.ingestion_ledger where profile = 'maven_crm'") == [(5,)]
