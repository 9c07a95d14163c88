"""The project's `model_contract` test (dbt_project/tests/generic/model_contract.sql): one query per
model for its required columns, keys and enums, failing with one row per broken property that names
the property, the column(s), and the offending key or value with its row count."""

from __future__ import annotations

import json

import duckdb
import pytest

from ingestion.canonical import ENTITIES
from orchestration.dbt_manifest import MANIFEST, ensure_manifest
from orchestration.settings import DBT_PROJECT_DIR
from tests.support import build_warehouse, dbt, write_raw_batch

ORDERS = [
    {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},
    {"order_id": "O2", "account_id": None, "order_date": "2025-01-06", "status": "completed"},
    {"order_id": "O3", "account_id": None, "order_date": None, "status": "pending"},
]
LINES = [
    {"order_id": "O1", "line_number": 1, "product_id": "P1", "quantity": "2", "unit_price": "10"},
    {"order_id": "O1", "line_number": 2, "product_id": "P2", "quantity": "1", "unit_price": "5"},
]


def _contracts() -> dict[str, dict]:
    """model name -> the model_contract test's node, from the prepared manifest."""
    ensure_manifest()
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    tests = [n for n in nodes if (n.get("test_metadata") or {}).get("name") == "model_contract"]
    return {n["attached_node"].split(".")[-1]: n for n in tests}


def _failures(data_dir, warehouse, model: str) -> set[tuple]:
    """The failure rows of the model's contract, from the SQL dbt compiled for it."""
    [compiled] = (data_dir / "dbt_target" / "compiled").rglob(f"{model}_contract.sql")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return set(con.execute(compiled.read_text()).fetchall())


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """stg_orders and stg_order_lines built from the rows above, then broken the way staging's
    latest-version rule never breaks them itself: a duplicated key, a compound key twice, a status
    outside the enum (the tables are stored: macros/stored_staging.sql)."""
    data = tmp_path_factory.mktemp("contract") / "data"
    write_raw_batch(data / "raw", "orders", ORDERS)
    write_raw_batch(data / "raw", "order_lines", LINES)
    warehouse = build_warehouse(data, select="stg_orders stg_order_lines", command="run")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("""insert into staging.stg_orders (order_id, account_id, order_date, status)
                       values ('O1', 'A1', date '2025-01-05', 'completed'),
                              ('O4', 'A1', date '2025-01-07', 'Completed'),
                              ('O5', 'A1', date '2025-01-08', 'Completed')""")
        # two lines without an order, both numbered 7: a NULL key part compares equal
        con.execute(
            "insert into staging.stg_order_lines "
            "select * replace (cast(null as varchar) as order_id, 7 as line_number) from staging.stg_order_lines"
        )
        con.execute(
            "insert into staging.stg_order_lines "
            "select * from staging.stg_order_lines where order_id = 'O1' and line_number = 1"
        )
    result = dbt(data, "test", "--select", "stg_orders_contract stg_order_lines_contract", check=False)
    return data, warehouse, result


def test_both_contracts_fail_the_dbt_test(broken):
    _, _, result = broken
    # stg_orders: two columns with NULLs, a key twice, a value outside the enum; the lines: NULL
    # order ids, two keys twice
    assert result.returncode == 1 and "ERROR=2" in result.stdout, result.stdout[-2000:]
    assert "Got 4 results" in result.stdout and "Got 3 results" in result.stdout


def test_each_broken_property_of_stg_orders_is_a_row(broken):
    data, warehouse, _ = broken
    # counted by hand from ORDERS and the three rows inserted above
    nulls = {c: sum(o[c] is None for o in ORDERS) for c in ("order_id", "account_id", "order_date", "status")}
    expected = {("not_null", c, None, n) for c, n in nulls.items() if n}
    expected |= {("unique", "order_id", "O1", 2), ("accepted_values", "status", "Completed", 2)}
    assert _failures(data, warehouse, "stg_orders") == expected


def test_a_compound_key_twice_names_its_values(broken):
    data, warehouse, _ = broken
    assert _failures(data, warehouse, "stg_order_lines") == {
        ("not_null", "order_id", None, 2),
        ("unique", "order_id, line_number", "NULL, 7", 2),
        ("unique", "order_id, line_number", "O1, 1", 2),
    }


def test_a_clean_model_passes(tmp_path):
    data = tmp_path / "data"
    write_raw_batch(data / "raw", "orders", [o for o in ORDERS if None not in o.values()])
    build_warehouse(data, select="stg_orders", command="run")
    passed = dbt(data, "test", "--select", "stg_orders_contract")
    assert "PASS=1" in passed.stdout


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_staging_contract_is_the_landing_contract(entity):
    # ingestion/canonical.py (exports.md): each entity's required columns, key and enums; the
    # staging suite no longer checks keys and enums, so this contract is their only check
    contract = _contracts()[f"stg_{entity}"]
    kwargs, ent = contract["test_metadata"]["kwargs"], ENTITIES[entity]
    assert set(kwargs["not_null"]) == set(ent.required)
    keys = [[k] if isinstance(k, str) else k for k in kwargs["unique"]]
    assert keys == [list(ent.key)]
    enums = {c.name: sorted(c.enum) for c in ent.columns if c.enum}
    assert {c: sorted(v) for c, v in (kwargs.get("accepted_values") or {}).items()} == enums
    assert contract["description"].startswith("Why: staging keeps exactly one (latest) version per key")


def test_every_mart_contract_checks_its_grain():
    # the marts suite no longer checks grains (marts.yml): each mart's contract is their only check
    marts = [path.stem for path in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")]
    contracts = _contracts()
    assert len(marts) == 18
    for mart in marts:
        assert contracts[mart]["test_metadata"]["kwargs"]["unique"], mart
        assert contracts[mart]["description"].startswith("Why: each mart has one row per its documented grain")
