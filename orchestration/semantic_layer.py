"""The semantic layer: the dbt project's MetricFlow metrics, queried against the published warehouse.

The metrics are defined once in dbt_project/models/semantic/ (dbt parse writes them to
target/semantic_manifest.json). MetricFlow plans each query and renders DuckDB SQL; this module runs
that SQL on the serving file opened read-only, attached under the build catalog's name ("build")
that the manifest's relation names carry, so a query never touches the build warehouse and never
blocks a run. `salesdw metrics list|query` is the command line over it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from metricflow.data_table.mf_table import MetricFlowDataTable
from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricflow_semantics.sql.sql_bind_parameters import SqlBindParameterSet

from orchestration.dbt_manifest import MANIFEST, ensure_manifest

SEMANTIC_MANIFEST = MANIFEST.parent / "semantic_manifest.json"
BUILD_CATALOG = "build"  # the catalog name dbt built the marts in (the manifest's relation names)


class ReadOnlyDuckDbClient:
    """MetricFlow's SqlClient protocol over one read-only DuckDB connection to the serving file."""

    def __init__(self, warehouse: Path):
        if not warehouse.exists():
            raise FileNotFoundError(f"{warehouse}: no published warehouse yet (run `salesdw run` first)")
        self._con = duckdb.connect()
        self._con.execute(f"attach '{str(warehouse).replace(chr(39), chr(39) * 2)}' as {BUILD_CATALOG} (read_only)")
        self._con.execute(f"use {BUILD_CATALOG}")

    @property
    def sql_engine_type(self) -> SqlEngine:
        return SqlEngine.DUCKDB

    @property
    def sql_plan_renderer(self) -> DuckDbSqlPlanRenderer:
        return DuckDbSqlPlanRenderer()

    def query(
        self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()
    ) -> MetricFlowDataTable:
        cursor = self._con.execute(stmt, dict(sql_bind_parameter_set.param_dict) or None)
        names = [d[0] for d in cursor.description]
        return MetricFlowDataTable.create_from_rows(column_names=names, rows=cursor.fetchall())

    def execute(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()) -> None:
        self._con.execute(stmt, dict(sql_bind_parameter_set.param_dict) or None)

    def dry_run(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet = SqlBindParameterSet()) -> None:
        self._con.execute(f"explain {stmt}", dict(sql_bind_parameter_set.param_dict) or None)

    def close(self) -> None:
        self._con.close()

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


@dataclass(frozen=True)
class MetricRows:
    """A metric query's answer: column names, rows, and the SQL that produced them."""

    columns: list[str]
    rows: list[tuple]
    sql: str


@contextmanager
def semantic_layer(warehouse: Path) -> Iterator[MetricFlowEngine]:
    """A MetricFlow engine over the project's semantic manifest and the published `warehouse`."""
    ensure_manifest()  # dbt parse writes semantic_manifest.json beside manifest.json
    manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=SEMANTIC_MANIFEST.read_text())
    client = ReadOnlyDuckDbClient(warehouse)
    try:
        yield MetricFlowEngine(semantic_manifest_lookup=SemanticManifestLookup(manifest), sql_client=client)
    finally:
        client.close()


def list_metrics(warehouse: Path) -> list[tuple[str, str, str, list[str]]]:
    """(name, type, description, dimensions) of every metric, by name."""
    with semantic_layer(warehouse) as engine:
        return [
            (m.name, m.type.value, m.description or "", sorted(d.dunder_name for d in m.dimensions))
            for m in engine.list_metrics()
        ]


def run_query(
    engine: MetricFlowEngine, metrics: list[str], group_by: list[str], where: list[str] | None = None
) -> MetricRows:
    """Run `metrics` grouped by `group_by` (e.g. metric_time__quarter, team, team_kpi__region)."""
    request = MetricFlowQueryRequest.create(
        metric_names=metrics, group_by_names=group_by, where_constraints=where or None, order_by_names=group_by or None
    )
    result = engine.query(request)
    table = result.result_df
    return MetricRows(columns=list(table.column_names), rows=[tuple(r) for r in table.rows], sql=result.sql)


def query_metrics(
    warehouse: Path, metrics: list[str], group_by: list[str], where: list[str] | None = None
) -> MetricRows:
    """`run_query` on a semantic layer opened for this one query."""
    with semantic_layer(warehouse) as engine:
        return run_query(engine, metrics, group_by, where)
