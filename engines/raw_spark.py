"""The raw zone on Apache Spark: `raw.<entity>` as external Parquet tables, and the Spark build
brought back to DuckDB.

The Spark twin of ingestion/raw_zone.expose and engines/raw_postgres.load_raw_zone: Spark reads
the Parquet batches where they lie (no copy), through tables declared with the contract's columns
(`raw_zone.raw_columns`), so older batches that lack a newer column read it as NULL and an entity
with no batch yet is an empty, typed table.

After `dbt build --target spark`, `export_to_duckdb` copies every relation dbt built on Spark
(staging, intermediate, marts, config) into the DuckDB build warehouse as tables, through Parquet
written by Spark. The GX checks, the publish step and the report then run unchanged on that file.

The Spark session takes its settings from the `spark` output of dbt_project/profiles.yml (one home
for master, metastore and warehouse directory: dbt and these helpers must open the same catalog).
The embedded Derby metastore admits one process at a time, so these helpers run in their own short
process (`python -m engines.raw_spark expose|export`) before and after dbt, never beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import duckdb
import jinja2

from ingestion.canonical import ENTITIES
from ingestion.raw_zone import raw_columns
from ingestion.safe_yaml import safe_load

RAW_SCHEMA = "raw"
# Every schema the dbt project builds into (dbt_project.yml: staging, intermediate, marts; seeds: config).
DBT_SCHEMAS = ("staging", "intermediate", "marts", "config")
PROFILES_YML = Path(__file__).resolve().parent.parent / "dbt_project" / "profiles.yml"

_DECIMAL = re.compile(r"DECIMAL\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_SPARK_TYPES = {"VARCHAR": "string", "INTEGER": "int", "BIGINT": "bigint", "DATE": "date", "TIMESTAMP": "timestamp"}


def spark_type(canonical_type: str) -> str:
    """The Spark SQL spelling of a raw-zone column type; ValueError for a type it cannot hold."""
    spelled = canonical_type.strip().upper()
    if spelled in _SPARK_TYPES:
        return _SPARK_TYPES[spelled]
    if decimal := _DECIMAL.fullmatch(spelled):
        return f"decimal({decimal[1]},{decimal[2]})"
    raise ValueError(f"no Spark type for raw-zone type {canonical_type}")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def raw_table_statements(raw_dir: Path) -> list[str]:
    """Spark SQL that (re)declares raw.<entity> over <raw_dir>/<entity>/*.parquet for every entity."""
    statements = [f"create database if not exists {RAW_SCHEMA}"]
    for name, entity in ENTITIES.items():
        columns = ", ".join(f"`{column}` {spark_type(t)}" for column, t in raw_columns(entity).items())
        location = (Path(raw_dir) / name).resolve()
        # dropping an external table leaves its files alone; re-declaring it drops Spark's cached
        # file listing, so a batch landed since is read
        statements.append(f"drop table if exists {RAW_SCHEMA}.{name}")
        statements.append(
            f"create table {RAW_SCHEMA}.{name} ({columns}) using parquet location {_quote(location.as_uri())}"
        )
    return statements


def spark_conf(profiles_yml: Path = PROFILES_YML, output: str = "spark") -> dict[str, str]:
    """The Spark settings of the dbt profile's `output`, rendered with this process's environment."""

    def env_var(name: str, default: str | None = None) -> str:
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise KeyError(f"the dbt profile needs ${name}")
        return default

    # as dbt does: parse the YAML, then render the values (so commented-out examples never render)
    parameters = safe_load(profiles_yml.read_text())["salesdw"]["outputs"][output].get("server_side_parameters")
    return {str(key): jinja2.Template(str(value)).render(env_var=env_var) for key, value in (parameters or {}).items()}


def spark_session(conf: dict[str, str] | None = None):
    """A Hive-enabled Spark session with the profile's settings (the catalog dbt builds into)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("salesdw").enableHiveSupport()
    for key, value in (conf if conf is not None else spark_conf()).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def expose_raw_tables(spark, raw_dir: Path) -> None:
    for entity in ENTITIES:
        (Path(raw_dir) / entity).mkdir(parents=True, exist_ok=True)  # the location of an empty table
    for statement in raw_table_statements(raw_dir):
        spark.sql(statement)


def built_relations(spark, schemas: Iterable[str] = DBT_SCHEMAS) -> list[tuple[str, str]]:
    """(schema, name) of every table and view in `schemas` of the Spark catalog."""
    existing = {db.name for db in spark.catalog.listDatabases()}
    return [
        (schema, table.name)
        for schema in schemas
        if schema in existing
        for table in sorted(spark.catalog.listTables(schema), key=lambda t: t.name)
        if not table.isTemporary
    ]


def export_to_duckdb(spark, warehouse: Path, export_dir: Path, schemas: Iterable[str] = DBT_SCHEMAS) -> dict[str, int]:
    """Copy every relation of `schemas` from Spark into the DuckDB `warehouse` as tables.

    Spark writes each relation as Parquet under export_dir; DuckDB replaces those schemas in one
    transaction (a reader sees the previous build or this one). Returns rows per schema.table."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampType

    schemas = tuple(schemas)
    shutil.rmtree(export_dir, ignore_errors=True)
    relations = built_relations(spark, schemas)
    for schema, name in relations:
        frame = spark.table(f"{schema}.{name}")
        # wall-clock timestamps, as DuckDB's TIMESTAMP (a zoned Parquet timestamp would read as TIMESTAMPTZ)
        frame = frame.select(
            *[
                F.col(f"`{f.name}`").cast("timestamp_ntz").alias(f.name)
                if isinstance(f.dataType, TimestampType)
                else F.col(f"`{f.name}`")
                for f in frame.schema.fields
            ]
        )
        frame.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(str(export_dir / schema / name))

    rows: dict[str, int] = {}
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("begin transaction")
        for schema in schemas:
            con.execute(f"drop schema if exists {schema} cascade")
            con.execute(f"create schema {schema}")
        for schema, name in relations:
            files = str(export_dir / schema / name / "*.parquet").replace("'", "''")
            con.execute(f"create table {schema}.\"{name}\" as select * from read_parquet('{files}')")
            rows[f"{schema}.{name}"] = con.execute(f'select count(*) from {schema}."{name}"').fetchone()[0]
        con.execute("commit")
        con.execute("checkpoint")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.raw_spark", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    expose = commands.add_parser("expose", help="declare raw.<entity> over the raw zone")
    expose.add_argument("--raw-dir", type=Path, required=True)
    export = commands.add_parser("export", help="copy the Spark build into a DuckDB warehouse")
    export.add_argument("--warehouse", type=Path, required=True)
    export.add_argument("--export-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        if args.command == "expose":
            expose_raw_tables(spark, args.raw_dir)
            print(f"raw.<entity> declared for {len(ENTITIES)} entities over {args.raw_dir}")
        else:
            rows = export_to_duckdb(spark, args.warehouse, args.export_dir)
            print(f"{len(rows)} relations, {sum(rows.values())} rows copied into {args.warehouse}")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
