"""The Spark side of the raw zone without starting Spark: the DDL of the external tables, the
profile's Spark settings, and the engine switch. Runs in `make test` (no pyspark needed)."""

from __future__ import annotations

import pytest

from engines.raw_spark import raw_table_statements, spark_conf, spark_type
from ingestion.canonical import ENTITIES
from ingestion.raw_zone import raw_columns
from orchestration.settings import get_settings


def test_spark_type_spells_every_contract_type():
    assert spark_type("VARCHAR") == "string"
    assert spark_type("integer") == "int"
    assert spark_type("DECIMAL(18, 2)") == "decimal(18,2)"
    assert spark_type("TIMESTAMP") == "timestamp"
    with pytest.raises(ValueError):
        spark_type("HUGEINT")
    for entity in ENTITIES.values():  # every raw-zone column has a Spark spelling
        for column_type in raw_columns(entity).values():
            spark_type(column_type)


def test_raw_tables_are_external_parquet_tables_with_the_contract_columns(tmp_path):
    statements = raw_table_statements(tmp_path / "raw")
    creates = [s for s in statements if s.startswith("create table")]
    assert statements[0] == "create database if not exists raw"
    assert len(creates) == len(ENTITIES) == 18
    budgets = next(s for s in creates if s.startswith("create table raw.budgets "))
    assert (
        "(`month` date, `team_id` string, `category` string, `budget_amount` decimal(18,2), `currency` string, "
        "`_batch_id` string, `_profile` string, `_source_file` string, `_row_number` bigint, "
        "`_loaded_at` timestamp, `_snapshot_date` date) using parquet"
    ) in budgets
    assert budgets.endswith(f"location '{(tmp_path / 'raw' / 'budgets').resolve().as_uri()}'")
    # each create is preceded by its drop (a re-declared table forgets Spark's cached file listing)
    assert statements.index(budgets) - 1 == statements.index("drop table if exists raw.budgets")


def test_spark_settings_come_from_the_dbt_profile(monkeypatch, tmp_path):
    monkeypatch.setenv("SALESDW_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("SALESDW_SPARK_MASTER", "local[3]")
    conf = spark_conf()
    assert conf["spark.master"] == "local[3]"
    assert conf["spark.sql.warehouse.dir"] == f"{tmp_path}/spark/warehouse"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={tmp_path}/spark/metastore_db;create=true"
    )
    assert conf["spark.sql.session.timeZone"] == "UTC"


def test_engine_switch(monkeypatch, tmp_path):
    monkeypatch.delenv("SALESDW_ENGINE", raising=False)
    assert get_settings(tmp_path).dbt_env()["SALESDW_DBT_TARGET"] == "duckdb"
    monkeypatch.setenv("SALESDW_ENGINE", "spark")
    settings = get_settings(tmp_path)
    assert settings.engine == "spark"
    assert settings.dbt_env()["SALESDW_DBT_TARGET"] == "spark"
    assert settings.dbt_env()["SALESDW_SPARK_DIR"] == str(tmp_path.resolve() / "spark")
    monkeypatch.setenv("SALESDW_ENGINE", "sparkle")
    with pytest.raises(ValueError, match="SALESDW_ENGINE"):
        get_settings(tmp_path)
