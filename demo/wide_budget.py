"""The zh flavor's budget workbook with the months across the columns (`费用预算.xlsx`), the way
planning spreadsheets are kept: one row per team, category and currency, one column per month
(`2024年1月` ... ), a title block above the header. The crm_zh profile reads it back with
`unpivot:` (ingestion/unpivot.py), one canonical row per non-empty month cell, so the flavors'
budgets stay equal row for row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import xlsxwriter

from ingestion.profile import SourceSpec
from ingestion.readers import ROW_NUMBER, open_source

KEYS = (("团队编号", "team_id"), ("费用类别", "category"), ("币种", "currency"))


def month_header(month: str) -> str:
    """`2024-03` -> `2024年3月`."""
    year, number = month.split("-")[:2]
    return f"{year}年{int(number)}月"


def write_wide_budget(
    con, source: Path, target: Path, *, categories: dict, currencies: dict, created: datetime, work_dir: Path
) -> int:
    """Pivot the canonical budgets file `source` into `target`; returns the month cells written."""
    fmt = "xlsx" if source.suffix == ".xlsx" else "csv"
    table = open_source(con, source, fmt, SourceSpec(entity="budgets", files=(source.name,)), work_dir)
    try:
        rows = con.sql(
            f"select team_id, category, currency, left(month, 7) as month, budget_amount "
            f"from {table.relation} order by {ROW_NUMBER}"
        ).fetchall()
    finally:
        table.close()
    months = sorted({r[3] for r in rows})
    grid: dict[tuple, dict[str, str]] = {}
    for team, category, currency, month, amount in rows:
        grid.setdefault((team, category, currency), {})[month] = amount
    _write(target, grid, months, categories, currencies, created)
    return len(rows)


def _write(target: Path, grid: dict, months: list[str], categories: dict, currencies: dict, created: datetime) -> None:
    workbook = xlsxwriter.Workbook(str(target))
    workbook.set_properties(
        {
            "title": "费用预算",
            "author": "销售管理系统",
            "company": "星海科技",
            "created": created.replace(tzinfo=timezone.utc),
        }
    )
    sheet = workbook.add_worksheet("预算")
    money = workbook.add_format({"num_format": "¥#,##0.00"})
    sheet.write_string(0, 0, "星海科技 销售费用预算（按月）")
    sheet.write_string(1, 0, "单位：元")
    sheet.write_row(3, 0, [h for h, _ in KEYS] + [month_header(m) for m in months])
    for r, ((team, category, currency), cells) in enumerate(grid.items(), start=4):
        sheet.write_row(
            r, 0, [team or "", categories.get(category, category) or "", currencies.get(currency, currency) or ""]
        )
        for c, month in enumerate(months, start=len(KEYS)):
            value = cells.get(month)
            if value is not None:
                sheet.write_number(r, c, float(value), money)
    workbook.close()
