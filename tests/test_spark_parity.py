"""Spark parity: `salesdw run --engine spark` materializes the whole asset graph with Apache Spark
(local mode, dbt-spark `session`, Derby metastore under the data dir) doing the dbt build, and
every mart it builds equals the DuckDB build of the same generated data, row for row (money to the
cent, rates to 1e-9).

Two independent readings of the Spark build are compared with the DuckDB build:
- the Parquet files Spark itself wrote from its marts (<data>/spark/export/marts/<mart>/), and
- the marts of the published serving warehouse (after checks and publish).

Needs the optional `spark` dependency group and Java (`make test-spark`); excluded from `make test`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from demo import generate
from ingestion.loader import ingest
from orchestration.settings import get_settings
from tests.support import build_warehouse

# Deselected by `make test` (-m "not spark"); `make test-spark` installs the group and runs it. Nothing
# here imports pyspark: Spark runs in the salesdw subprocess, so collection works without the group.
pytestmark = pytest.mark.spark

RATE_TOLERANCE = 1e-9
SALESDW = Path(sys.executable).parent / "salesdw"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One generated company: built by dbt on DuckDB, and run end to end with --engine spark."""
    exports = tmp_path_factory.mktemp("exports") / "canonical"
    generate(exports, scale=0.03, seed=23, months=6)

    duck_dir = tmp_path_factory.mktemp("duckdb")
    duck = get_settings(duck_dir)
    duck.ensure_dirs()
    ingest(exports, "canonical", duck.raw_dir, duck.quality_dir)

    spark_dir = tmp_path_factory.mktemp("spark")
    shutil.copytree(exports, get_settings(spark_dir).landing_dir / "canonical")
    env = {**os.environ, "SALESDW_ENGINE": "spark", "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("SALESDW_POSTGRES_URL", None)
    with ThreadPoolExecutor(max_workers=1) as pool:  # both engines at once: the module stays shorter
        duck_build = pool.submit(build_warehouse, duck_dir)
        spark_run = subprocess.run(
            [str(SALESDW), "run", "--engine", "spark", "--data-dir", str(spark_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        warehouse = duck_build.result()
    return {"duckdb": warehouse, "duck_dir": duck_dir, "spark_dir": spark_dir, "spark_run": spark_run}


def _marts(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
    ]


def _columns(con, table: str) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


def _same_value(duck_type: str, duck_value, other) -> bool:
    """Equal as the mart contract needs: money to the cent, rates to 1e-9, dates as dates, NULL = NULL."""
    if duck_value is None or other is None:
        return duck_value is None and other is None
    if duck_type in ("DOUBLE", "FLOAT"):
        return math.isclose(float(duck_value), float(other), rel_tol=RATE_TOLERANCE, abs_tol=RATE_TOLERANCE)
    if duck_type.startswith("DECIMAL"):
        return isinstance(other, Decimal) and duck_value == other
    return type(duck_value) is type(other) and duck_value == other


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, round(v, 6) if isinstance(v, float) else v) for v in row)


def _mismatches(duck, other, relation_of, tables: list[str]) -> list[str]:
    """Every value that differs between DuckDB's marts and `other`'s relations (relation_of(table))."""
    mismatches: list[str] = []
    for table in tables:
        columns = _columns(duck, table)
        select_list = ", ".join(f'"{c}"' for c, _ in columns)
        duck_rows = sorted(duck.execute(f"select {select_list} from marts.{table}").fetchall(), key=_sort_key)
        other_rows = sorted(other.execute(f"select {select_list} from {relation_of(table)}").fetchall(), key=_sort_key)
        assert len(duck_rows) > 0, f"marts.{table} is empty: the comparison would prove nothing"
        assert len(other_rows) == len(duck_rows), (
            f"marts.{table}: {len(other_rows)} rows on Spark, {len(duck_rows)} on DuckDB"
        )
        for duck_row, other_row in zip(duck_rows, other_rows):
            for (column, duck_type), duck_value, value in zip(columns, duck_row, other_row):
                if not _same_value(duck_type, duck_value, value):
                    mismatches.append(
                        f"marts.{table}.{column} ({duck_type}) at {duck_row[:3]}: "
                        f"DuckDB {duck_value!r}, Spark {value!r}"
                    )
    return mismatches


def test_spark_run_completes_end_to_end(runs):
    run = runs["spark_run"]
    assert run.returncode == 0, (
        f"salesdw run --engine spark exited {run.returncode}:\n{run.stdout[-6000:]}\n{run.stderr[-3000:]}"
    )
    settings = get_settings(runs["spark_dir"])
    # dbt really built on Spark: the run's artifacts name the spark adapter, every model succeeded
    results = json.loads((settings.data_dir / "dbt_target" / "run_results.json").read_text())
    manifest = json.loads((settings.data_dir / "dbt_target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "spark"
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    models = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"]
    data_tests = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"}
    assert len(models) >= 40 and {statuses.get(uid) for uid in models} == {"success"}
    # the same data tests as the DuckDB build of the same project, and every one of them passed
    duck_manifest = json.loads((runs["duck_dir"] / "dbt_target" / "manifest.json").read_text())
    duck_tests = {uid for uid, node in duck_manifest["nodes"].items() if node["resource_type"] == "test"}
    assert len(duck_tests) >= 80 and data_tests == duck_tests
    assert not {uid for uid in data_tests if statuses.get(uid) not in ("pass", "warn")}
    # the Spark catalog (Derby) and its tables live under the data dir
    assert (settings.spark_dir / "metastore_db").is_dir() and (settings.spark_dir / "warehouse").is_dir()
    # published, and the report was written from the published marts
    assert settings.serving_warehouse.exists()
    assert any(settings.reports_dir.glob("*.html"))


def test_every_mart_spark_wrote_equals_the_duckdb_build(runs):
    export = get_settings(runs["spark_dir"]).spark_dir / "export" / "marts"
    with duckdb.connect(str(runs["duckdb"]), read_only=True) as duck, duckdb.connect() as spark_files:
        tables = _marts(duck)
        assert len(tables) >= 11
        assert sorted(p.name for p in export.iterdir()) == tables

        def parquet(table: str) -> str:
            return f"read_parquet('{export / table}/*.parquet')"

        for table in tables:
            spark_columns = [r[0] for r in spark_files.execute(f"describe select * from {parquet(table)}").fetchall()]
            assert spark_columns == [c for c, _ in _columns(duck, table)], f"marts.{table}: columns differ"
        mismatches = _mismatches(duck, spark_files, parquet, tables)
    assert not mismatches, f"{len(mismatches)} values differ, e.g.:\n" + "\n".join(mismatches[:20])


def test_published_marts_equal_the_duckdb_build_with_the_same_types(runs):
    serving = get_settings(runs["spark_dir"]).serving_warehouse
    with (
        duckdb.connect(str(runs["duckdb"]), read_only=True) as duck,
        duckdb.connect(str(serving), read_only=True) as published,
    ):
        tables = _marts(duck)
        assert _marts(published) == tables
        for table in tables:  # the checks, the report and BI tools see the types they see on DuckDB
            assert _columns(published, table) == _columns(duck, table), f"marts.{table}: columns or types differ"
        mismatches = _mismatches(duck, published, lambda table: f"marts.{table}", tables)
    assert not mismatches, f"{len(mismatches)} values differ, e.g.:\n" + "\n".join(mismatches[:20])
