"""Are two DuckDB warehouses the same? Table by table, row for row (issue 19: behaviour unchanged).

Each table is first compared inside DuckDB (`EXCEPT ALL` both ways, with multiplicity): equal
tables, the common case even at 30 M rows, never leave the engine. A table that differs there is
read whole, its rows sorted on all columns, and the two sides compared row by row. Floating-point
values match within a relative tolerance (1e-6 by default): a refactor, or a refresh that sums in
another order, may change the last bits. Rounding both sides to a fixed number of decimals is not
used, because two values a hair apart can round to different sides of a tie. Every other value
(integers, decimals, text, dates, NULL) must be equal.

    python -m bench.compare_warehouses BEFORE.duckdb AFTER.duckdb [--rel-tol 1e-6] [--schema marts]
        [--skip-schema quality --skip-schema control ...]

Prints each difference and a summary; exits 1 when there is any, 0 when the warehouses match.

bench/compare.py answers another question: does another implementation (plain DuckDB, pandas)
compute one mart like the pipeline, matched on its grain across column types. This one compares
two builds of the same pipeline, every table, typed alike.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Collection
from pathlib import Path

import duckdb

MAX_SHOWN = 10  # row differences printed per table; the count is always complete


def tables(path: Path, schema: str | None, skipped: Collection[str] = ()) -> dict[str, list[str]]:
    """Every base table and view of the file as `schema.table` -> its column names in order (only
    `schema` when given, never the `skipped` schemas)."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and table_schema not in ('information_schema', 'pg_catalog') "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for table_schema, table_name, column in rows:
        if (schema is None or table_schema == schema) and table_schema not in skipped:
            found.setdefault(f"{table_schema}.{table_name}", []).append(column)
    return found


def equal_in_engine(before: Path, after: Path, table: str, columns: list[str]) -> bool:
    """Do both sides hold exactly the same rows, with multiplicity? Answered by DuckDB without
    reading the rows into Python; a float a hair apart answers no, and the caller looks closer."""
    quoted = ", ".join(f'"{column}"' for column in columns)
    schema, name = table.split(".", 1)
    mine, theirs = f'"{schema}"."{name}"', f'other."{schema}"."{name}"'
    with duckdb.connect(str(before), read_only=True) as con:
        con.execute(f"attach '{after}' as other (read_only)")
        (count,) = con.execute(
            f"select count(*) from ((select {quoted} from {mine} except all select {quoted} from {theirs}) "
            f"union all (select {quoted} from {theirs} except all select {quoted} from {mine}))"
        ).fetchone()
    return count == 0


def read_sorted(path: Path, table: str, columns: list[str]) -> list[tuple]:
    """The table's rows sorted on all its columns (NULLs first), so row order never matters."""
    quoted = ", ".join(f'"{column}"' for column in columns)
    schema, name = table.split(".", 1)
    with duckdb.connect(str(path), read_only=True) as con:
        order = ", ".join(f"{i + 1} nulls first" for i in range(len(columns)))
        return con.execute(f'select {quoted} from "{schema}"."{name}" order by {order}').fetchall()


def values_match(left: object, right: object, rel_tol: float) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=rel_tol, abs_tol=0.0) or left == right
    return left == right


def compare_table(before: list[tuple], after: list[tuple], rel_tol: float) -> list[str]:
    """The differences of one table: its row count, then each row that differs (by position)."""
    if len(before) != len(after):
        return [f"{len(before)} rows before, {len(after)} after"]
    differences = []
    for index, (left, right) in enumerate(zip(before, after)):
        if len(left) != len(right) or not all(values_match(a, b, rel_tol) for a, b in zip(left, right)):
            differences.append(f"row {index}: {left} != {right}")
    return differences


def compare(
    before: Path, after: Path, rel_tol: float = 1e-6, schema: str | None = None, skipped: Collection[str] = ()
) -> list[str]:
    """Every difference between the two warehouses, each naming its table; empty when they match."""
    left, right = tables(before, schema, skipped), tables(after, schema, skipped)
    problems = [f"{name}: only in {before}" for name in sorted(left.keys() - right.keys())]
    problems += [f"{name}: only in {after}" for name in sorted(right.keys() - left.keys())]
    for name in sorted(left.keys() & right.keys()):
        if left[name] != right[name]:
            problems.append(f"{name}: columns differ: {left[name]} != {right[name]}")
            continue
        if equal_in_engine(before, after, name, left[name]):
            continue
        differences = compare_table(
            read_sorted(before, name, left[name]), read_sorted(after, name, right[name]), rel_tol
        )
        problems += [f"{name}: {difference}" for difference in differences[:MAX_SHOWN]]
        if len(differences) > MAX_SHOWN:
            problems.append(f"{name}: ... {len(differences) - MAX_SHOWN} more rows differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rel-tol", type=float, default=1e-6, help="relative tolerance for floats (default 1e-6)")
    parser.add_argument("--schema", help="compare only this schema (default: every schema)")
    parser.add_argument(
        "--skip-schema", action="append", default=[], help="leave this schema out (repeatable), e.g. quality"
    )
    args = parser.parse_args(argv)
    for path in (args.before, args.after):
        if not path.is_file():
            print(f"{path}: no such DuckDB file", file=sys.stderr)
            return 2
    problems = compare(args.before, args.after, args.rel_tol, args.schema, args.skip_schema)
    for problem in problems:
        print(problem)
    count = len(tables(args.before, args.schema, args.skip_schema))
    print(f"{count} tables compared: {'no difference' if not problems else f'{len(problems)} differences'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
