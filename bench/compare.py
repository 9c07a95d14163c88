"""Do two computations of a mart agree row for row? The benchmark's correctness claim, shared by
bench/run.py and tests/test_bench_equivalence.py.

Rows are matched on the mart's grain; every column is compared: text and dates exactly, numbers
to 1e-9 relative (money columns are cents, exact in all three implementations up to float
rounding of large sums), NULL only with NULL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

# mart (pipeline table) -> (name of the floor/pandas output, grain)
MARTS = {
    "mart_rep_kpi_monthly": ("rep_kpi_monthly", ["month", "rep_id"]),
    "dim_customers": ("dim_customers", ["account_id"]),
}
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-6
# A quotient cast to cents (avg_deal_size = won_amount / won) can land on a half cent, which float
# and decimal rounding may send to either neighbour: one cent apart is still the same answer.
CENT_ROUNDED = {"avg_deal_size": 0.01 + 1e-9}
_SHOWN = 3  # differing rows quoted per column


def pipeline_marts(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The two marts from a pipeline warehouse, keyed by the floor/pandas output name."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {output: con.execute(f"select * from marts.{mart}").df() for mart, (output, _) in MARTS.items()}


def output_marts(folder: Path) -> dict[str, pd.DataFrame]:
    """The two marts a floor or pandas run wrote as <output>.parquet."""
    return {output: pd.read_parquet(Path(folder) / f"{output}.parquet") for output, _ in MARTS.values()}


def _normalized(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return pd.to_numeric(column, errors="raise").astype("float64")
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.astype("datetime64[us]")
    values = column.dropna()
    if len(values) and all(hasattr(v, "isoformat") for v in values.head(100)):  # python dates
        return pd.to_datetime(column).astype("datetime64[us]")
    if len(values) and all(hasattr(v, "as_tuple") for v in values.head(100)):  # python Decimals
        return column.astype("float64")
    return column.astype(object).where(column.notna(), None)


def compare_frames(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str]) -> list[str]:
    """Every difference between two versions of a mart (empty list = identical)."""
    problems: list[str] = []
    missing = [c for c in expected.columns if c not in actual.columns]
    extra = [c for c in actual.columns if c not in expected.columns]
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected columns: {', '.join(extra)}")
    columns = [c for c in expected.columns if c in actual.columns]
    left = expected[columns].apply(_normalized)
    right = actual[columns].apply(_normalized)
    if left.duplicated(keys).any() or right.duplicated(keys).any():
        problems.append(f"grain {keys} is not unique")
        return problems
    merged = left.merge(right, on=keys, how="outer", suffixes=("", "__actual"), indicator=True)
    only_expected = merged[merged["_merge"] == "left_only"]
    only_actual = merged[merged["_merge"] == "right_only"]
    if len(only_expected):
        problems.append(
            f"{len(only_expected)} rows missing, e.g. {only_expected[keys].head(_SHOWN).to_dict('records')}"
        )
    if len(only_actual):
        problems.append(f"{len(only_actual)} rows unexpected, e.g. {only_actual[keys].head(_SHOWN).to_dict('records')}")
    both = merged[merged["_merge"] == "both"]
    for column in columns:
        if column in keys:
            continue
        a, b = both[column], both[f"{column}__actual"]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            close = np.isclose(
                a.to_numpy(),
                b.to_numpy(),
                rtol=RELATIVE_TOLERANCE,
                atol=CENT_ROUNDED.get(column, ABSOLUTE_TOLERANCE),
                equal_nan=True,
            )
        else:
            null_a, null_b = a.isna().to_numpy(), b.isna().to_numpy()
            same = np.array([x == y for x, y in zip(a, b)], dtype=bool)
            close = (null_a & null_b) | (~null_a & ~null_b & same)
        if not close.all():
            bad = both.loc[~close, [*keys, column, f"{column}__actual"]].head(_SHOWN)
            problems.append(
                f"{column}: {int((~close).sum())} rows differ, e.g. "
                + "; ".join(
                    f"{dict(zip(keys, r[: len(keys)]))}: {r[-2]!r} vs {r[-1]!r}" for r in bad.itertuples(index=False)
                )
            )
    return problems


def compare_outputs(pipeline: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """{output name: differences} for both marts."""
    return {output: compare_frames(pipeline[output], other[output], keys) for output, keys in MARTS.values()}
