"""PostgreSQL parity: the whole dbt project builds on PostgreSQL from the same raw zone and every
mart equals the DuckDB build, row for row; and the raw-zone loader (engines/raw_postgres.py)
copies what it reads faithfully, in one transaction.

Runs against the real server at 127.0.0.1:5432 (or $SALESDW_PG_HOST/PORT/USER, as the dbt profile
reads them) in throwaway databases dropped at the end of the module.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest

from demo import generate
from engines.raw_postgres import load_raw_zone
from ingestion.canonical import ENTITIES
from ingestion.loader import ingest
from ingestion.raw_zone import parquet_select, raw_columns
from ingestion.retire import retire
from orchestration.settings import DBT_PROJECT_DIR, get_settings
from tests.conftest import require_postgres
from tests.support import build_warehouse, write_raw_batch

pytestmark = pytest.mark.postgres

PG_HOST = os.environ.get("SALESDW_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("SALESDW_PG_PORT", "5432")
PG_USER = os.environ.get("SALESDW_PG_USER", "postgres")
SERVER = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}"
MONEY_STEP = Decimal("0.01")
RATE_TOLERANCE = 1e-9


require_postgres(f"{SERVER}/postgres", module_level=True)


def _throwaway_database(prefix: str):
    name = f"salesdw_test_{prefix}_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


# ---------------------------------------------------------------- the two builds


def _dbt_build_on_postgres(data_dir: Path, database: str) -> subprocess.CompletedProcess:
    """`dbt build` (models, seeds, data tests AND unit tests) with the profile's postgres target."""
    env = {
        **os.environ,
        **get_settings(data_dir).dbt_env(),
        "SALESDW_DBT_TARGET": "postgres",
        "SALESDW_PG_HOST": PG_HOST,
        "SALESDW_PG_PORT": PG_PORT,
        "SALESDW_PG_USER": PG_USER,
        "SALESDW_PG_DBNAME": database,
    }
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(data_dir / "dbt_target_pg"),
        "--log-path",
        str(data_dir / "dbt_logs_pg"),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def parity_database():
    yield from _throwaway_database("parity")


@pytest.fixture(scope="module")
def builds(tmp_path_factory, parity_database):
    """A generated company, ingested once, built on DuckDB and on PostgreSQL side by side."""
    data_dir = tmp_path_factory.mktemp("parity")
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    exports = settings.landing_dir / "canonical"
    generate(exports, scale=0.05, seed=23, months=15)
    ingest(exports, "canonical", settings.raw_dir, settings.quality_dir)
    raw_rows = load_raw_zone(settings.raw_dir, f"{SERVER}/{parity_database}", settings.quality_dir)
    with ThreadPoolExecutor(max_workers=1) as pool:  # both engines build at once: the module stays fast
        duck_build = pool.submit(build_warehouse, data_dir)
        pg_build = _dbt_build_on_postgres(data_dir, parity_database)
        warehouse = duck_build.result()
    assert pg_build.returncode == 0, f"dbt build on PostgreSQL failed:\n{pg_build.stdout[-8000:]}"
    return {"data_dir": data_dir, "warehouse": warehouse, "database": parity_database, "raw_rows": raw_rows}


def _columns(cur, schema: str, table: str) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in cur.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def _same_value(duck_type: str, duck_value, pg_value) -> bool:
    """Equal as the mart contract needs: money to the cent, rates to 1e-9, dates as dates, NULL = NULL."""
    if duck_value is None or pg_value is None:
        return duck_value is None and pg_value is None
    if duck_type in ("DOUBLE", "FLOAT"):
        return math.isclose(float(duck_value), float(pg_value), rel_tol=RATE_TOLERANCE, abs_tol=RATE_TOLERANCE)
    if duck_type.startswith("DECIMAL"):  # exact: money equal to the cent (and quantities to their scale)
        return isinstance(pg_value, Decimal) and duck_value == pg_value
    # dates must stay dates (a datetime is a date subclass: compare the exact types too)
    return type(duck_value) is type(pg_value) and duck_value == pg_value


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, round(v, 6) if isinstance(v, float) else v) for v in row)


def test_raw_zone_reaches_postgres_whole(builds):
    raw_dir = builds["data_dir"] / "raw"
    with duckdb.connect() as duck:
        expected = {
            name: duck.execute(f"select count(*) from ({parquet_select(raw_dir / name, raw_columns(ent))})").fetchone()[
                0
            ]
            for name, ent in ENTITIES.items()
        }
    assert builds["raw_rows"] == expected
    assert min(expected.values()) > 0  # the generated company lands every entity


def test_full_build_on_postgres_runs_every_unit_test_and_data_test(builds):
    def statuses(target: str) -> dict[str, str]:
        run = json.loads((builds["data_dir"] / target / "run_results.json").read_text())
        assert run["args"]["which"] == "build"
        return {r["unique_id"]: r["status"] for r in run["results"]}

    on_postgres, on_duckdb = statuses("dbt_target_pg"), statuses("dbt_target")
    manifest = json.loads((builds["data_dir"] / "dbt_target_pg" / "manifest.json").read_text())
    unit_tests = list(manifest["unit_tests"])
    data_tests = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"]
    models = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"]
    assert len(unit_tests) >= 20 and len(data_tests) >= 80 and len(models) >= 40
    assert {on_postgres.get(uid) for uid in unit_tests} == {"pass"}
    assert {on_postgres.get(uid) for uid in models} == {"success"}
    assert not {uid for uid in data_tests if on_postgres.get(uid) not in ("pass", "warn")}
    # every node (model, seed, data test, unit test) ends the same way on both engines
    assert on_postgres == on_duckdb


def test_every_mart_equals_the_duckdb_build_row_for_row(builds):
    with (
        duckdb.connect(str(builds["warehouse"]), read_only=True) as duck,
        psycopg.connect(f"{SERVER}/{builds['database']}") as pg,
    ):
        duck_marts = [
            r[0]
            for r in duck.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        pg_marts = [
            r[0]
            for r in pg.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        assert len(duck_marts) >= 15
        assert pg_marts == duck_marts

        mismatches: list[str] = []
        for table in duck_marts:
            columns = _columns(duck, "marts", table)
            pg_columns = [
                r[0]
                for r in pg.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = 'marts' and table_name = %s order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            assert pg_columns == [c for c, _ in columns], f"marts.{table}: columns differ"

            select_list = ", ".join(f'"{c}"' for c, _ in columns)
            duck_rows = sorted(duck.execute(f"select {select_list} from marts.{table}").fetchall(), key=_sort_key)
            pg_rows = sorted(pg.execute(f"select {select_list} from marts.{table}").fetchall(), key=_sort_key)
            assert len(duck_rows) > 0, f"marts.{table} is empty: the comparison would prove nothing"
            assert len(pg_rows) == len(duck_rows), (
                f"marts.{table}: {len(pg_rows)} rows on PostgreSQL, {len(duck_rows)} on DuckDB"
            )
            for duck_row, pg_row in zip(duck_rows, pg_rows):
                for (column, duck_type), duck_value, pg_value in zip(columns, duck_row, pg_row):
                    if not _same_value(duck_type, duck_value, pg_value):
                        mismatches.append(
                            f"marts.{table}.{column} ({duck_type}) at {duck_row[:3]}: "
                            f"DuckDB {duck_value!r}, PostgreSQL {pg_value!r}"
                        )
        assert not mismatches, f"{len(mismatches)} values differ, e.g.:\n" + "\n".join(mismatches[:20])


# ---------------------------------------------------------------- the loader, on a hand-made raw zone

AWKWARD_NAME = 'Acme, "the" best\nsecond line; 北京 \\ tab\there'


@pytest.fixture(scope="module")
def loader_database():
    yield from _throwaway_database("raw_load")


def test_loader_copies_awkward_values_and_types_faithfully(tmp_path, loader_database):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw,
        "accounts",
        [
            {
                "account_id": "A1",
                "account_name": AWKWARD_NAME,
                "industry": "",
                "region": None,
                "created_at": "2025-01-02 03:04:05.250000",
                "owner_rep_id": "R1",
            },
            {"account_id": "A2", "account_name": "O'Brien", "created_at": "2025-02-03 00:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {
                "order_id": "O1",
                "line_number": 1,
                "product_id": "P1",
                "quantity": "2.5",
                "unit_price": "10.1234",
                "discount_amount": "0.05",
            },
        ],
    )
    write_raw_batch(
        raw, "budgets", [{"month": "2025-03-01", "team_id": "T1", "category": "travel", "budget_amount": "-0.01"}]
    )
    url = f"{SERVER}/{loader_database}"  # does not exist yet: the loader creates it

    loaded = load_raw_zone(raw, url, tmp_path / "quality")

    assert loaded == {name: {"accounts": 2, "order_lines": 1, "budgets": 1}.get(name, 0) for name in ENTITIES}
    with psycopg.connect(url) as pg:
        accounts = pg.execute(
            "select account_id, account_name, industry, region, created_at, _row_number "
            "from raw.accounts order by account_id"
        ).fetchall()
        assert accounts == [
            ("A1", AWKWARD_NAME, "", None, datetime(2025, 1, 2, 3, 4, 5, 250000), 1),
            ("A2", "O'Brien", None, None, datetime(2025, 2, 3), 2),
        ]
        assert pg.execute(
            "select quantity, unit_price, discount_amount, line_number from raw.order_lines"
        ).fetchall() == [(Decimal("2.5000"), Decimal("10.1234"), Decimal("0.05"), 1)]
        assert pg.execute("select month, budget_amount from raw.budgets").fetchall() == [
            (date(2025, 3, 1), Decimal("-0.01"))
        ]
        # every entity is a table with the contract's columns, in order, typed as the raw zone types them
        for name, ent in ENTITIES.items():
            pg_columns = pg.execute(
                "select attname::text, format_type(atttypid, atttypmod) from pg_attribute "
                "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
                [f"raw.{name}"],
            ).fetchall()
            assert [c for c, _ in pg_columns] == list(raw_columns(ent)), name
        types = dict(
            pg.execute(
                "select attname::text, format_type(atttypid, atttypmod) from pg_attribute "
                "where attrelid = 'raw.order_lines'::regclass and attnum > 0"
            ).fetchall()
        )
        assert types["quantity"] == "numeric(18,4)" and types["discount_amount"] == "numeric(18,2)"
        assert types["_loaded_at"] == "timestamp without time zone" and types["line_number"] == "integer"


def test_reload_replaces_in_one_transaction_and_keeps_dependent_views(tmp_path, loader_database):
    raw = tmp_path / "raw"
    url = f"{SERVER}/{loader_database}"
    write_raw_batch(raw, "teams", [{"team_id": "T1"}, {"team_id": "T2"}])
    load_raw_zone(raw, url, tmp_path / "quality")
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("create or replace view public.team_ids as select team_id from raw.teams")

    write_raw_batch(raw, "teams", [{"team_id": "T3"}])
    assert load_raw_zone(raw, url, tmp_path / "quality")["teams"] == 3  # every batch once: replaced, never appended
    with psycopg.connect(url) as pg:
        assert sorted(r[0] for r in pg.execute("select team_id from public.team_ids")) == ["T1", "T2", "T3"]

    # a table whose columns no longer match the contract is rebuilt (and what was built on it goes)
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("alter table raw.teams drop column region")
    assert load_raw_zone(raw, url, tmp_path / "quality")["teams"] == 3
    with psycopg.connect(url) as pg:
        assert [
            r[0]
            for r in pg.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'teams' "
                "order by ordinal_position"
            )
        ] == list(raw_columns(ENTITIES["teams"]))
        assert pg.execute("select to_regclass('public.team_ids')").fetchone() == (None,)

    # PostgreSQL text cannot hold a NUL byte: this load fails at its last entity and changes nothing.
    write_raw_batch(raw, "teams", [{"team_id": "T4"}])
    write_raw_batch(
        raw, "targets", [{"month": "2025-01-01", "metric": "visits", "target_value": "3", "team_id": "T\x00NUL"}]
    )
    with pytest.raises(psycopg.Error):
        load_raw_zone(raw, url, tmp_path / "quality")
    with psycopg.connect(url) as pg:
        assert pg.execute("select count(*) from raw.teams").fetchone() == (3,)
        assert pg.execute("select count(*) from raw.targets").fetchone() == (0,)


def test_a_retired_batch_is_not_loaded(tmp_path, loader_database):
    """why: retiring a bad batch (ingestion/retire.py) must take it out of every engine's raw zone,
    not only DuckDB's; PostgreSQL serves the same dbt project and would otherwise build on it."""
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    landed = settings.landing_dir / "canonical" / "teams" / "teams.csv"
    landed.parent.mkdir(parents=True)
    landed.write_text("team_id,team_name,region\nT1,North,N\nT2,South,S\n")
    (good,) = ingest(landed.parents[1], "canonical", settings.raw_dir, settings.quality_dir).files
    landed.write_text("team_id,team_name,region\nT9,Bad,X\n")
    (bad,) = ingest(landed.parents[1], "canonical", settings.raw_dir, settings.quality_dir).files
    url = f"{SERVER}/{loader_database}"

    assert load_raw_zone(settings.raw_dir, url, settings.quality_dir)["teams"] == 3
    retire(
        bad.batch_id,
        "a wrong export",
        quality_dir=settings.quality_dir,
        landing_dir=settings.landing_dir,
        warehouse_dir=settings.warehouse_dir,
    )
    assert load_raw_zone(settings.raw_dir, url, settings.quality_dir)["teams"] == 2
    with psycopg.connect(url) as pg:
        assert pg.execute("select _batch_id, team_id from raw.teams order by team_id").fetchall() == [
            (good.batch_id, "T1"),
            (good.batch_id, "T2"),
        ]
