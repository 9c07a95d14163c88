"""`salesdw metrics list|query`: the semantic layer's metrics (orchestration/semantic_layer.py)
against the published warehouse, from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from orchestration import exit_codes
from orchestration.settings import get_settings

metrics_app = typer.Typer(
    no_args_is_help=True, help="The semantic layer's metrics (MetricFlow) on the published warehouse."
)
console = Console(highlight=False)

DataDir = Annotated[
    Optional[Path], typer.Option("--data-dir", help="Data directory (default $SALESDW_DATA_DIR or ./data).")
]
Names = Annotated[str, typer.Option(help="Comma-separated names.")]


def _split(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]


def _warehouse(data_dir: Path | None) -> Path:
    warehouse = get_settings(data_dir).serving_warehouse
    if not warehouse.exists():
        console.print(f"[red]no published warehouse at {warehouse}: run `salesdw run` first[/]", soft_wrap=True)
        raise typer.Exit(exit_codes.FAILED)
    return warehouse


@metrics_app.command("list")
def list_command(data_dir: DataDir = None) -> None:
    """Every metric: name, type, description and the dimensions it can be grouped by."""
    from orchestration.semantic_layer import list_metrics

    table = Table("metric", "type", "description", "group by")
    for name, kind, description, dimensions in list_metrics(_warehouse(data_dir)):
        table.add_row(name, kind, description, ", ".join(dimensions))
    console.print(table)


@metrics_app.command("query")
def query_command(
    metrics: Names,
    group_by: Annotated[str, typer.Option("--group-by", help="Comma-separated, e.g. metric_time__quarter,team.")] = "",
    where: Annotated[
        Optional[str], typer.Option(help="A MetricFlow filter, e.g. \"{{ Dimension('team_kpi__region') }} = '华东'\".")
    ] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
    show_sql: Annotated[bool, typer.Option("--sql", help="Also print the SQL MetricFlow ran.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Query metrics, e.g. --metrics net_revenue,win_rate --group-by metric_time__month,team."""
    from metricflow_semantics.errors.error_classes import MetricFlowException

    from orchestration.semantic_layer import query_metrics

    try:
        result = query_metrics(_warehouse(data_dir), _split(metrics), _split(group_by), [where] if where else None)
    except MetricFlowException as exc:
        console.print(f"[red]{exc}[/]", soft_wrap=True)
        raise typer.Exit(exit_codes.FAILED) from None
    _print(result, csv)
    if show_sql:
        console.print(result.sql, soft_wrap=True, markup=False)


def _print(result, csv: bool) -> None:
    if csv:
        print(",".join(result.columns))
        for row in result.rows:
            print(",".join("" if v is None else str(v) for v in row))
        return
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
