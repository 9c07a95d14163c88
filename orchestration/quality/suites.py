"""The expectation suites per layer (suites/<layer>.yml), expanded into concrete checks.

Expansion is static (no database, no Great Expectations import), so the Dagster definitions can
declare every asset check up front; values known only at run time (as_of_date, the previous build's
row count, which entities landed) are filled in by the runner. The YAML format is documented at
the top of suites/raw.yml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ingestion.canonical import ENTITIES
from ingestion.raw_zone import LINEAGE_COLUMNS
from ingestion.safe_yaml import safe_load

SUITES_DIR = Path(__file__).resolve().parent / "suites"
LAYERS = ("raw", "staging", "marts")
SEVERITIES = ("error", "warn")

# Expectation types this package adds on top of GX (the runner turns them into GX expectations).
ROW_COUNT_CHANGE = "row_count_change"  # row count vs the previous published build
UNEXPECTED_ROWS = "unexpected_rows_expectation"  # GX's own: rows returned by a SQL query
LEDGER_TABLE = "quality.ingestion_ledger"


@dataclass(frozen=True)
class ExpectationDef:
    type: str  # GX expectation in snake_case, or ROW_COUNT_CHANGE
    kwargs: dict[str, Any]
    label: str = ""  # names the part in observed values (a column, a rule); "" for single checks
    unit: str = "rows"  # what an unexpected-rows count counts, for observed values


@dataclass(frozen=True)
class CheckDef:
    layer: str
    name: str
    table: str  # schema.table: the audited relation, and the asset the check reports on
    severity: str
    why: str
    expectations: tuple[ExpectationDef, ...]
    query: str | None = None  # validate these rows instead of the table itself
    batch_table: str | None = None  # validate another relation (the ledger) for this asset
    only_if_landed: str | None = None  # entity: skip (pass) unless the ledger says it landed

    @property
    def asset(self) -> str:
        """Dagster asset key joined by '/': raw/orders, staging/stg_orders, marts/dim_customers."""
        return self.table.replace(".", "/", 1)

    @property
    def asset_key_path(self) -> list[str]:
        return self.table.split(".", 1)

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    @property
    def source(self) -> str:
        """What GX validates: a relation name, or the query text (one batch per source)."""
        return self.query or self.batch_table or self.table


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _gx_braces(sql: str) -> str:
    """GX formats unexpected-row queries with str.format({batch}); keep literal braces literal."""
    return sql.replace("{", "{{").replace("}", "}}")


def _raw_table(entity: str) -> str:
    return f"raw.{entity}"


def _staging_table(entity: str) -> str:
    return f"staging.stg_{entity}"


def _schema(entity: str) -> list[ExpectationDef]:
    """Catalog vs contract in one query: the columns whose type differs, is missing or is extra.

    One expectation per table instead of one per column keeps GX's per-expectation overhead off
    the hundreds of raw columns, and the unexpected rows name each difference.
    """
    ent = ENTITIES[entity]
    contract = {c.name: c.type for c in ent.columns} | LINEAGE_COLUMNS
    expected = ", ".join(f"('{name}', '{type_}')" for name, type_ in contract.items())
    query = (
        f"with expected (column_name, data_type) as (values {expected}), "
        "actual as (select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() "
        f"and table_schema = 'raw' and table_name = '{entity}') "
        "select coalesce(e.column_name, a.column_name) as column_name, "
        "e.data_type as contract_type, a.data_type as actual_type "
        "from expected as e full outer join actual as a on a.column_name = e.column_name "
        "where e.data_type is distinct from a.data_type "
        # retyped columns first (the sample in details shows them), then missing or extra ones
        "order by case when e.data_type is not null and a.data_type is not null then 0 else 1 end, 1"
    )
    # GX wants every unexpected-rows query to read {batch} (else it prints a hint to stdout on
    # every copy of the expectation); this one reads the catalog, and names the batch in a comment.
    return [
        ExpectationDef(
            UNEXPECTED_ROWS,
            {"unexpected_rows_query": _gx_braces(query) + " /* the columns of {batch} */"},
            unit="columns differ from the contract",
        )
    ]


def _required_values(entity: str) -> list[ExpectationDef]:
    return [ExpectationDef("expect_column_values_to_not_be_null", {"column": c}, c) for c in ENTITIES[entity].required]


def _row_rules(entity: str) -> list[ExpectationDef]:
    return [
        ExpectationDef(
            UNEXPECTED_ROWS,
            {"unexpected_rows_query": f"select * from {{batch}} where not ({_gx_braces(rule)})"},
            reason,
        )
        for rule, reason in ENTITIES[entity].rules
    ]


def _ledger_balance(entity: str) -> list[ExpectationDef]:
    query = (
        "select batch_id, file_path, status, rows_read, rows_loaded, rows_quarantined "
        f"from {{batch}} where entity = '{entity}' "
        "and not coalesce(rows_read = rows_loaded + rows_quarantined, false)"
    )
    return [ExpectationDef(UNEXPECTED_ROWS, {"unexpected_rows_query": query}, unit="files unbalanced")]


def _snapshot_shrink(entity: str, max_drop: float) -> list[ExpectationDef]:
    """The newest snapshot file of the entity (per profile) against the one before it, in order of
    snapshot date then landing (exports.md; a ledger row from before the column: its landing day):
    rows loaded dropping by max_drop or more is a cut or half-exported file, named with its counts."""
    if ENTITIES[entity].kind != "S":
        return []
    query = (
        "with loaded as (select profile, file_path, rows_loaded, row_number() over (partition by profile "
        "order by coalesce(snapshot_date, cast(started_at as date)) desc, batch_id desc) as recency "
        f"from {{batch}} where entity = '{entity}' and status = 'loaded' and retired_at is null) "
        f"select '{entity}: ' || previous.rows_loaded || ' → ' || newest.rows_loaded || ' rows, ' "
        "|| newest.file_path as shrunk, previous.file_path as previous_file "
        "from loaded as newest inner join loaded as previous "
        "on previous.profile is not distinct from newest.profile and previous.recency = 2 "
        "where newest.recency = 1 and newest.rows_loaded < previous.rows_loaded "
        f"and newest.rows_loaded <= previous.rows_loaded * {1 - max_drop!r}"
    )
    return [
        ExpectationDef(
            UNEXPECTED_ROWS, {"unexpected_rows_query": query}, unit=f"snapshot files shrunk by {max_drop:.0%} or more"
        )
    ]


def _missing_columns(entity: str) -> list[ExpectationDef]:
    """Loaded files of the entity that lacked source columns (their canonical columns read NULL)."""
    query = (
        "select file_path, missing_columns from {batch} "
        f"where entity = '{entity}' and status = 'loaded' and missing_columns is not null"
    )
    return [ExpectationDef(UNEXPECTED_ROWS, {"unexpected_rows_query": query}, unit="files missing columns")]


def _generated(layer: str, family: str, common: dict, kwargs: dict | None = None) -> list[CheckDef]:
    """One check per canonical entity for a family whose facts live in ingestion/canonical.py."""
    checks = []
    for entity in ENTITIES:
        table = _raw_table(entity) if layer == "raw" else _staging_table(entity)
        extra: dict[str, Any] = {}
        if family == "schema":
            expectations = _schema(entity)
        elif family == "required_values":
            expectations = _required_values(entity)
        elif family == "landed_rows":
            expectations = [ExpectationDef("expect_table_row_count_to_be_between", {"min_value": 1})]
            extra["only_if_landed"] = entity
        elif family == "row_rules":
            expectations = _row_rules(entity)
        elif family == "ledger_balance":
            expectations = _ledger_balance(entity)
            extra["batch_table"] = LEDGER_TABLE
        elif family == "missing_columns":
            expectations = _missing_columns(entity)
            extra["batch_table"] = LEDGER_TABLE
        elif family == "snapshot_shrink":
            expectations = _snapshot_shrink(entity, float((kwargs or {})["max_drop"]))
            extra["batch_table"] = LEDGER_TABLE
        else:
            raise ValueError(f"unknown generated family {family!r}")
        if expectations:
            checks.append(CheckDef(table=table, expectations=tuple(expectations), **common, **extra))
    return checks


def _expectation(spec: dict, **kwargs) -> ExpectationDef:
    merged = {**spec.get("kwargs", {}), **kwargs}
    return ExpectationDef(spec["expect"], merged, merged.get("column", ""))


def _expand(layer: str, spec: dict) -> list[CheckDef]:
    common = {"layer": layer, "name": spec["name"], "severity": spec["severity"], "why": " ".join(spec["why"].split())}
    if spec["severity"] not in SEVERITIES:
        raise ValueError(f"{layer}.{spec['name']}: severity must be one of {SEVERITIES}")
    if "generate" in spec:
        return _generated(layer, spec["generate"], common, spec.get("kwargs"))
    if "columns" in spec:
        return [
            CheckDef(table=table, expectations=tuple(_expectation(spec, column=c) for c in columns), **common)
            for table, columns in spec["columns"].items()
        ]
    if "tables" in spec:
        return [CheckDef(table=table, expectations=(_expectation(spec),), **common) for table in spec["tables"]]
    if "asset" in spec:
        return [CheckDef(table=spec["asset"], expectations=(_expectation(spec),), query=spec.get("query"), **common)]
    raise ValueError(f"{layer}.{spec['name']}: needs one of generate, columns, tables, asset")


@cache
def _document(layer: str) -> dict:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}")
    return safe_load((SUITES_DIR / f"{layer}.yml").read_text(encoding="utf-8"))


def suite_parameters(layer: str) -> dict[str, dict]:
    """Run-time parameters a layer derives from as_of_date, e.g. {days_before_as_of: 31}."""
    return dict(_document(layer).get("parameters") or {})


@cache
def load_suite(layer: str) -> tuple[CheckDef, ...]:
    """Every check of a layer, expanded (one per asset and check name)."""
    checks = [c for spec in _document(layer)["checks"] for c in _expand(layer, spec)]
    seen = set()
    for c in checks:
        if (c.asset, c.name) in seen:
            raise ValueError(f"{layer}: check {c.name} defined twice for {c.asset}")
        seen.add((c.asset, c.name))
    return tuple(checks)
