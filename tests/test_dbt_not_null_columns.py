"""The project's `not_null_columns` test (dbt_project/tests/generic/not_null_columns.sql): one scan
per model for all its required columns, failing with one row per column that holds NULLs."""

from __future__ import annotations

import json

import duckdb
import pytest

from ingestion.canonical import ENTITIES
from orchestration.dbt_manifest import MANIFEST, ensure_manifest
from tests.support import build_warehouse, dbt, write_raw_batch

ORDERS = [
    {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},
    {"order_id": "O2", "account_id": None, "order_date": "2025-01-06", "status": "completed"},
    {"order_id": "O3", "account_id": None, "order_date": None, "status": "pending"},
]


def _compiled_test(data_dir, model: str) -> str:
    test = next(path for path in (data_dir / "dbt_target" / "compiled").rglob(f"not_null_columns_{model}_*.sql"))
    return test.read_text()


def test_one_row_per_column_with_nulls(tmp_path):
    data = tmp_path / "data"
    write_raw_batch(data / "raw", "orders", ORDERS)
    warehouse = build_warehouse(data, select="stg_orders", command="run")
    failed = dbt(data, "test", "--select", "stg_orders,test_name:not_null_columns", check=False)
    assert failed.returncode == 1 and "Got 2 results" in failed.stdout, failed.stdout[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(_compiled_test(data, "stg_orders")).fetchall()
    # counted independently from ORDERS above
    expected = {(c, sum(o[c] is None for o in ORDERS)) for c in ("order_id", "account_id", "order_date", "status")}
    assert set(rows) == {(c, n) for c, n in expected if n}


def test_passes_without_nulls(tmp_path):
    data = tmp_path / "data"
    write_raw_batch(data / "raw", "orders", [o for o in ORDERS if None not in o.values()])
    build_warehouse(data, select="stg_orders", command="run")
    passed = dbt(data, "test", "--select", "stg_orders,test_name:not_null_columns")
    assert "PASS=1" in passed.stdout


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_staging_requires_what_the_landing_contract_requires(entity):
    # ingestion/canonical.py (exports.md) lists each entity's required columns
    ensure_manifest()
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    tests = [
        n
        for n in nodes
        if (n.get("test_metadata") or {}).get("name") == "not_null_columns"
        and n["attached_node"] == f"model.salesdw.stg_{entity}"
    ]
    assert len(tests) == 1
    assert set(tests[0]["test_metadata"]["kwargs"]["columns"]) == set(ENTITIES[entity].required)
