"""Run bench/floor.sql on an export folder: the two marts computed by plain DuckDB (the floor).

    .venv/bin/python -m bench.floor --exports DIR --out DIR

Writes <out>/rep_kpi_monthly.parquet and <out>/dim_customers.parquet. DuckDB has no xlsx reader
without an extension download, so a targets workbook is first streamed to CSV (python-calamine);
the business-rule thresholds come from the dbt project's vars, the stage and action tables from its
seeds, so the floor and the pipeline read one configuration.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import duckdb
import yaml
from python_calamine import CalamineWorkbook

from orchestration.settings import DBT_PROJECT_DIR, get_settings

FLOOR_SQL = Path(__file__).with_name("floor.sql")
OUTPUTS = ("rep_kpi_monthly", "dim_customers")

# DuckDB variable -> dbt var of dbt_project.yml
RULE_VARS = {
    "vip_share": "lifecycle_vip_share",
    "inactive_days": "lifecycle_inactive_days",
    "new_days": "lifecycle_new_days",
    "loyal_orders_365d": "lifecycle_loyal_orders_365d",
}


def _cell(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def workbook_to_csv(workbook: Path, csv_path: Path) -> Path:
    """The first sheet of an .xlsx as a CSV, row by row (never the whole sheet in memory)."""
    sheet = CalamineWorkbook.from_path(str(workbook)).get_sheet_by_index(0)
    with open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        for row in sheet.iter_rows():
            if any(v not in (None, "") for v in row):
                writer.writerow([_cell(v) for v in row])
    return csv_path


def targets_files(exports: Path, work_dir: Path) -> list[str]:
    folder = exports / "targets"
    files = sorted(str(p) for p in folder.glob("*.csv"))
    for i, workbook in enumerate(sorted(folder.glob("*.xlsx"))):
        files.append(str(workbook_to_csv(workbook, work_dir / f"targets_{i}.csv")))
    return files


def rule_values() -> dict[str, object]:
    project_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    return {name: project_vars[var] for name, var in RULE_VARS.items()}


def run_floor(exports: Path, con: duckdb.DuckDBPyConnection, work_dir: Path) -> None:
    """Create tables rep_kpi_monthly and dim_customers in `con` from the exports."""
    variables = {
        "exports": str(Path(exports).resolve()),
        "targets_files": targets_files(Path(exports), work_dir),
        "seeds": str(DBT_PROJECT_DIR / "seeds"),
        **rule_values(),
    }
    for name, value in variables.items():
        con.execute(f"set variable {name} = ?", [value])
    con.execute(FLOOR_SQL.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # the pipeline's engine limits, so the comparison is like for like
    settings = get_settings()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="floor-", dir=args.out) as work:
        con = duckdb.connect(
            config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
                "temp_directory": str(Path(work) / "duckdb"),
            }
        )
        run_floor(args.exports, con, Path(work))
        for table in OUTPUTS:
            con.execute(f"copy {table} to '{args.out / table}.parquet' (format parquet)")
        con.close()
    print(f"floor: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
