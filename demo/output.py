"""Writing the canonical export format (exports.md): vectorised value formatting, a streaming CSV
sink and a reproducible .xlsx writer.

Values are formatted with pyarrow compute kernels (no per-row Python), so big entities stream to
disk chunk by chunk with bounded memory. Money is carried as integer cents and formatted exactly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter

NULL_STRING = pa.scalar(None, pa.string())
# One sheet holds 1,048,576 rows including the header row.
XLSX_MAX_DATA_ROWS = 1_048_575

Table = dict[str, pa.Array]


# --- value formatting ---------------------------------------------------------------------------
def with_nulls(values: pa.Array, null_mask: np.ndarray | None) -> pa.Array:
    """`values` with NULL (an empty field) where null_mask is true."""
    if null_mask is None or not np.any(null_mask):
        return values
    return pc.if_else(pa.array(null_mask), NULL_STRING, values)


def ids(prefix: str, numbers: np.ndarray, width: int, null_mask: np.ndarray | None = None) -> pa.Array:
    """`prefix` + zero-padded number, e.g. ids("SO", [7], 8) -> "SO00000007"."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width=width, padding="0")
    return with_nulls(pc.binary_join_element_wise(prefix, digits, ""), null_mask)


def integers(values: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return with_nulls(pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string()), null_mask)


def money(cents: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """Integer cents -> plain decimal text with two places ("1234.50", "-3.07")."""
    cents = np.asarray(cents, dtype=np.int64)
    magnitude = np.abs(cents)
    whole = pa.array(magnitude // 100).cast(pa.string())
    fraction = pc.utf8_lpad(pa.array(magnitude % 100).cast(pa.string()), width=2, padding="0")
    text = pc.binary_join_element_wise(whole, fraction, ".")
    negative = cents < 0
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return with_nulls(text, null_mask)


def dates(days: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """Day numbers -> `YYYY-MM-DD`."""
    return with_nulls(pa.array(np.asarray(days, dtype=np.int32), pa.date32()).cast(pa.string()), null_mask)


def months(days: np.ndarray) -> pa.Array:
    """Day numbers -> `YYYY-MM`."""
    return pc.utf8_slice_codeunits(dates(days), 0, 7)


def timestamps(seconds: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """Seconds since 1970-01-01 -> `YYYY-MM-DD HH:MM:SS`."""
    values = pa.array(np.asarray(seconds, dtype=np.int64), pa.timestamp("s")).cast(pa.string())
    return with_nulls(values, null_mask)


def pick(vocabulary: Sequence[str], indices: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """vocabulary[indices] as a string array (a vectorised lookup)."""
    values = pa.array(list(vocabulary), pa.string()).take(pa.array(np.asarray(indices, dtype=np.int64)))
    return with_nulls(values, null_mask)


def constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def take_rows(table: Table, indices: np.ndarray) -> Table:
    idx = pa.array(np.asarray(indices, dtype=np.int64))
    return {name: column.take(idx) for name, column in table.items()}


def table_rows(table: Table) -> int:
    return len(next(iter(table.values()))) if table else 0


# --- CSV ----------------------------------------------------------------------------------------
# Rows formatted at a time: formatted text costs far more memory than the numbers behind it, so
# big streams are formatted and written slice by slice.
SLICE_ROWS = 200_000


def write_in_slices(write, entity: str, n: int, make: Callable[[slice], Table]) -> None:
    """write(entity, make(rows)) for consecutive row slices (once even when n == 0, so the
    file and its header exist)."""
    for begin in range(0, max(n, 1), SLICE_ROWS):
        write(entity, make(slice(begin, min(begin + SLICE_ROWS, n))))


def write_columns(write, entity: str, make: Callable[..., Table], columns: Sequence[np.ndarray]) -> None:
    """write(entity, make(*columns[rows])) for consecutive row slices of equally long arrays."""
    write_in_slices(write, entity, len(columns[0]), lambda rows: make(*(c[rows] for c in columns)))


def _quoted(values: pa.Array) -> pa.Array:
    """RFC 4180: enclose a field in double quotes (doubling inner ones) only when it holds a
    comma, a quote or a line break."""
    needs_quotes = pc.match_substring_regex(values, r'[",\r\n]')
    if not pc.any(needs_quotes, skip_nulls=True).as_py():
        return values
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs_quotes, quoted, values)


def csv_bytes(table: Table, columns: Sequence[str]) -> bytes | memoryview:
    """The CSV text (no header) of a table whose columns are string arrays; missing ones are NULL."""
    n = table_rows(table)
    if n == 0:
        return b""
    fields = [table[c] if c in table else pa.nulls(n, pa.string()) for c in columns]
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    # fast path: no field holds a comma, quote or line break (one scan of the lines, not one per column)
    clean = (
        not pc.any(pc.match_substring_regex(lines, r'["\r\n]')).as_py()
        and pc.all(pc.equal(pc.count_substring(lines, ","), len(columns) - 1)).as_py()
    )
    if not clean:
        fields = [_quoted(f) for f in fields]
        lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, "", "\n")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + n + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


class CsvSink:
    """Streams one canonical CSV file: UTF-8, comma, header row, empty field = NULL."""

    def __init__(self, path: Path, columns: Sequence[str]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.columns = list(columns)
        self.rows = 0
        self._file = open(path, "wb")
        self._file.write((",".join(self.columns) + "\n").encode("utf-8"))

    def write(self, table: Table) -> None:
        unknown = set(table) - set(self.columns)
        if unknown:
            raise KeyError(f"{self.path.name}: no columns {sorted(unknown)}")
        self._file.write(csv_bytes(table, self.columns))
        self.rows += table_rows(table)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "CsvSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- XLSX ---------------------------------------------------------------------------------------
# A workbook's columns: numpy arrays (written as numbers) or arrow string arrays (text; NULL = empty).
Sheet = dict[str, "np.ndarray | pa.Array"]


def sheet_rows(sheet: Sheet) -> int:
    return len(next(iter(sheet.values()))) if sheet else 0


def sheet_table(sheet: Sheet, rows: slice) -> Table:
    """A slice of a sheet as CSV text columns (for workbooks too big for one worksheet)."""
    return {
        name: _number_text(column[rows]) if isinstance(column, np.ndarray) else column[rows]
        for name, column in sheet.items()
    }


def _number_text(values: np.ndarray) -> pa.Array:
    """Whole numbers as integers; a float column (a rate next to whole numbers) to the hundredth."""
    if values.dtype.kind == "f":
        return money(np.round(values * 100).astype(np.int64))
    return integers(values)


def _cell_values(column: "np.ndarray | pa.Array") -> tuple[list, list]:
    """(values, index per row): text goes through a dictionary, so a million cells share a few
    Python strings instead of holding a million; NULL -> the trailing None."""
    if isinstance(column, np.ndarray):
        return column.tolist(), list(range(len(column)))
    encoded = column.dictionary_encode()
    return encoded.dictionary.to_pylist() + [None], encoded.indices.fill_null(-1).to_pylist()


def write_xlsx(path: Path, sheet: str, columns: Sequence[str], data: Sheet, created: datetime) -> int:
    """One sheet, header in row 1; NULL cells stay empty. xlsxwriter stamps zip entries with a
    fixed 1980 date; fixing the document's creation date too makes the bytes reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = sheet_rows(data)
    if n > XLSX_MAX_DATA_ROWS:
        raise ValueError(f"{path.name}: {n} rows do not fit one worksheet")
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties(
        {
            "title": sheet,
            "author": "salesdw generate",
            "company": "星海科技",
            "created": created.replace(tzinfo=timezone.utc),
        }
    )
    worksheet = workbook.add_worksheet(sheet)
    worksheet.write_row(0, 0, list(columns))
    # typed writes skip xlsxwriter's per-cell type sniffing (~20% faster on big sheets)
    plan = []
    for index, name in enumerate(columns):
        values, positions = _cell_values(data[name])
        write = worksheet.write_number if isinstance(data[name], np.ndarray) else worksheet.write_string
        plan.append((index, values, positions, write))
    for row in range(n):
        for index, values, positions, write in plan:
            value = values[positions[row]]
            if value is not None:
                write(row + 1, index, value)
    workbook.close()
    return n
