"""Read one landed file into DuckDB as text: every source column VARCHAR, plus its 1-based data
row number, exactly as the file holds it (typing and validation happen later, in SQL).

DuckDB's own readers do the heavy lifting (read_csv, read_json_objects, read_parquet), so a
multi-million-row CSV is parsed in parallel C++ and never passes through Python rows. Text in
other encodings is transcoded to a temporary UTF-8 file in streaming fashion first; xlsx goes
through python-calamine and is streamed to DuckDB as Arrow batches.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa
from python_calamine import CalamineWorkbook

from ingestion.limits import MAX_LINE_BYTES, LimitExceeded, ReadLimits, check_first_line, check_xlsx
from ingestion.profile import SourceSpec, quote_ident, quote_literal

# Internal column names: a source's relation lengthens them when a header is named so (internal_name).
ROW_NUMBER = "__row_number"
_CHUNK_BYTES = 1 << 20
_XLSX_BATCH_ROWS = 20_000
_NATIVE_ENCODINGS = ("utf-8", "utf-8-sig")  # DuckDB reads these itself (a BOM is skipped)
# Wider than any real export (PostgreSQL tables stop at 1,600 columns): a wider "table" is a wrong
# delimiter or not a table, and each column costs the reader a 32 KB vector per 2,048 rows.
MAX_COLUMNS = 2048
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class ReadError(Exception):
    """The file cannot be read as declared (the whole file is rejected with this message)."""


@dataclass
class SourceTable:
    """A file exposed in DuckDB: `relation` is a FROM-able SQL text, scanned once."""

    relation: str
    columns: list[str]
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    # Header names (lower case) the file holds more than once; `columns` renamed the repeats
    # (`status`, `status_1`), so a mapping that names one of them is ambiguous.
    duplicated: frozenset[str] = frozenset()
    # Delimited text only: a SQL text giving the row's field count where it differs from the
    # header's (NULL where it matches), and one that is true for a last row cut short (the file
    # ends without a newline in the middle of that row).
    field_count: str | None = None
    cut_short: str | None = None
    # The values of fields beyond the header's, as (name in raw_record, SQL column), so a
    # quarantined row keeps all its text.
    extra_fields: list[tuple[str, str]] = field(default_factory=list)
    # The relation's row-number column: ROW_NUMBER, lengthened if a header is named so.
    row_number: str = ROW_NUMBER
    # Columns no value of which holds a control character (a delimited file whose bytes hold
    # none): the mapping need not search their text for one.
    control_free: frozenset[str] = frozenset()

    def close(self) -> None:
        for fn in reversed(self.cleanup):
            fn()
        self.cleanup.clear()


def open_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    spec: SourceSpec,
    tmp_dir: Path,
    extra_fields: int = 1,
    serial: bool = False,
    limits: ReadLimits = ReadLimits(),
) -> SourceTable:
    """Expose `path` (read as `fmt`) in `con`; raises ReadError when it cannot be read.
    extra_fields: delimited text is read with this many columns beyond the header's, so a row
    with more fields than the header is seen as such (see fields_beyond). serial: read it on one
    thread (see needs_serial_read). limits: what the file may make the reader hold (ingestion/limits.py)."""
    if path.stat().st_size == 0:
        raise ReadError("file is empty (no header row)")
    try:
        if fmt in ("csv", "csv.gz", "tsv", "tsv.gz"):
            return _open_csv(con, path, fmt, spec, tmp_dir, extra_fields, serial, limits)
        if fmt == "xlsx":
            check_xlsx(path, limits)
            return _open_xlsx(con, path, spec)
        if fmt in ("json", "jsonl"):
            return _open_json(con, path, fmt, spec, tmp_dir)
        if fmt == "parquet":
            return _open_parquet(con, path)
    except duckdb.Error as exc:
        raise ReadError(one_line(exc, max_line_bytes=limits.max_line_bytes)) from None
    except LimitExceeded as exc:
        raise ReadError(str(exc)) from None
    raise ReadError(f"unsupported file type (format {fmt!r})")


_INFORMATIVE = re.compile(
    r"Expected Number of Columns|Invalid unicode|unterminated quote|Maximum line size|"
    r"not possible to automatically detect|not utf-8|Conversion Error|No such file"
)
# DuckDB errors whose own words do not say what is wrong with the file.
_REWORDED = {
    # a line longer than the reader's whole buffer (the one-line-too-long case names the line)
    "does not support a full read on this file": (
        "a line is longer than the maximum line size of {max_line_bytes:,} bytes"
    ),
}


def one_line(exc: BaseException, limit: int = 300, max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """DuckDB errors span many lines (the raw line, hints, reader settings): keep the cause."""
    for marker, reworded in _REWORDED.items():
        if marker in str(exc):
            return reworded.format(max_line_bytes=max_line_bytes)
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    kept = [lines[0]] + [ln for ln in lines[1:] if _INFORMATIVE.search(ln) and ln not in lines[0]]
    text = " ".join(kept)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TOO_MANY_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def fields_beyond(exc: BaseException, source: SourceTable) -> int | None:
    """When DuckDB stopped at a row with more fields than `source` reads (header plus its extra
    columns), how many extra columns a new read needs; None for any other error."""
    found = _TOO_MANY_FIELDS.search(str(exc))
    if source.field_count is None or found is None or int(found.group(2)) <= int(found.group(1)):
        return None
    wanted = int(found.group(2)) - len(source.columns)
    # at least double: a file whose rows keep getting wider is re-read a few times, not once per row
    wanted = max(wanted, 2 * len(source.extra_fields))
    return wanted if len(source.columns) + wanted <= MAX_COLUMNS else None


def needs_serial_read(exc: BaseException) -> bool:
    """DuckDB's parallel CSV scanner cannot pad short rows in a file with quoted newlines."""
    return "does not support null_padding in conjunction with quoted new lines" in str(exc)


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _text_file(path: Path, fmt: str, encoding: str, tmp_dir: Path) -> tuple[Path, list[Callable[[], None]]]:
    """The file as UTF-8 text DuckDB can read: itself, or a streamed transcoded temp copy."""
    compressed = fmt.endswith(".gz")
    if encoding in _NATIVE_ENCODINGS:
        return path, []
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target = tmp_dir / f"{_unique_name('transcoded')}{'.json' if fmt.startswith('json') else '.csv'}"
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    # GB18030 and the 8-bit codecs decode almost any bytes, so a UTF-8 file declared as one of them
    # would load as mojibake: notice when the bytes are UTF-8 with non-ASCII text all along.
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="strict") if _ascii_compatible(encoding) else None
    non_ascii = False
    opener = gzip.open if compressed else open
    offset = 0
    try:
        with opener(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as out:
            utf8_instead = ReadError(
                f"the file is UTF-8 encoded, but the profile declares {encoding}: "
                "declare utf-8 (or re-export the file in the declared encoding)"
            )
            while chunk := src.read(_CHUNK_BYTES):
                if utf8 is not None:
                    try:
                        utf8.decode(chunk)
                        non_ascii = non_ascii or not chunk.isascii()
                    except UnicodeDecodeError:
                        utf8 = None  # not UTF-8: the declared encoding it is
                try:
                    out.write(decoder.decode(chunk))
                except UnicodeDecodeError as exc:
                    if utf8 is not None and non_ascii:
                        raise utf8_instead from None
                    raise ReadError(f"cannot decode as {encoding} near byte {offset + exc.start}") from None
                offset += len(chunk)
            try:
                out.write(decoder.decode(b"", final=True))
            except UnicodeDecodeError:
                raise ReadError(f"cannot decode as {encoding}: truncated character at end of file") from None
            if utf8 is not None and non_ascii:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    pass  # it ends mid-character: not UTF-8 after all
                else:
                    raise utf8_instead
    except (OSError, EOFError) as exc:
        target.unlink(missing_ok=True)
        raise ReadError(f"cannot read file: {exc}") from None
    except ReadError:
        target.unlink(missing_ok=True)
        raise
    return target, [lambda: target.unlink(missing_ok=True)]


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "a,\n".encode(encoding) == b"a,\n" and not encoding.startswith("utf-8")
    except (LookupError, UnicodeError):
        return False


def _csv_header(path: Path, compressed: bool, delimiter: str, quote: str) -> list[str]:
    """The header record, parsed by Python's csv module (RFC 4180), so DuckDB never has to sniff."""
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter, quotechar=quote, doublequote=True, strict=True), None)
    except UnicodeDecodeError:
        with opener(path, "rb") as fh:
            if fh.read(2) in _UTF16_BOMS:
                raise ReadError(
                    "the file is UTF-16 (it starts with a UTF-16 byte-order mark), not utf-8: "
                    "declare `encoding: utf-16` in the profile"
                ) from None
        raise ReadError("not utf-8 encoded: declare the file's encoding in the profile") from None
    except (csv.Error, OSError, EOFError) as exc:
        raise ReadError(f"cannot read the header row: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise ReadError("no header row")
    return [h or f"column{i + 1}" for i, h in enumerate(header)]


def _checked_columns(names: list[str]) -> tuple[list[str], frozenset[str]]:
    """Unique column names for DuckDB, and the names the file repeats; refuses absurd widths."""
    if len(names) > MAX_COLUMNS:
        raise ReadError(
            f"{len(names):,} columns, more than the {MAX_COLUMNS:,} a table export can have "
            "(wrong delimiter, or not a table?)"
        )
    counts: dict[str, int] = {}
    for name in names:
        key = name.strip().lower()
        counts[key] = counts.get(key, 0) + 1
    return _dedupe(names), frozenset(k for k, n in counts.items() if n > 1)


def internal_name(base: str, taken: list[str]) -> str:
    """`base`, lengthened until it differs from every name in `taken` (DuckDB ignores case)."""
    used = {t.lower() for t in taken}
    name = base
    while name.lower() in used:
        name += "_"
    return name


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, 2)
        return fh.read(1) in (b"\n", b"\r")


def _open_csv(
    con,
    path: Path,
    fmt: str,
    spec: SourceSpec,
    tmp_dir: Path,
    extra_fields: int = 1,
    serial: bool = False,
    limits: ReadLimits = ReadLimits(),
) -> SourceTable:
    compressed = fmt.endswith(".gz")
    check_first_line(path, compressed, limits)  # before the transcoding and csv's whole-line reads
    text_path, cleanup = _text_file(path, fmt, spec.encoding, tmp_dir)
    delimiter = spec.delimiter or ("\t" if fmt.startswith("tsv") else ",")
    compressed = text_path == path and compressed
    try:
        columns, duplicated = _checked_columns(_csv_header(text_path, compressed, delimiter, spec.quote))
    except ReadError:
        for fn in cleanup:
            fn()
        raise
    # A compressed file's last byte is only known after decompressing it all: there a cut last
    # row is quarantined for its field count only.
    cut_possible = not compressed and not _ends_with_newline(text_path)
    relation, columns, count, cut, extras, row_number = _csv_relation(
        text_path, columns, delimiter, spec.quote, compressed, extra_fields, cut_possible, serial, limits.max_line_bytes
    )
    free = frozenset() if compressed or _has_control_bytes(text_path) else frozenset(columns)
    return SourceTable(relation, columns, cleanup, duplicated, count, cut, extras, row_number, free)


# Every byte but the C0 control characters the mapping quarantines (mapping._CONTROL_CHARACTERS:
# all but tab, newline and carriage return). In UTF-8 a byte below 0x20 is that character.
_NOT_CONTROL = bytes(b for b in range(256) if b >= 0x20 or b in b"\t\n\r")


def _has_control_bytes(path: Path) -> bool:
    """Whether the file holds a control character anywhere: 0.1 s of CPU for 190 MB, a third of
    searching the values of its text columns (activities at scale 50)."""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            if chunk.translate(None, _NOT_CONTROL):
                return True
    return False


# DuckDB reads a field equal to its null string as NULL. This one no export holds (and a field
# that did would change the row's field count: quarantined, not misread), so an empty field is ''
# and only the fields a row lacks are NULL: that is how short rows are told apart.
_NO_NULL_TEXT = "\x01\x02salesdw:no-null\x02\x01"


def _csv_relation(
    text_path: Path,
    columns: list[str],
    delimiter: str,
    quote: str,
    compressed: bool,
    extra_fields: int,
    cut_possible: bool,
    serial: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> tuple:
    """(relation, columns, field_count, cut_short, extra_fields, row_number) of SourceTable for a CSV file.

    The header's columns plus `extra_fields` more are read, padded with NULL where a row is short
    (null_padding), so every row's field count is known: DuckDB would otherwise drop the empty
    field after a trailing delimiter and read `RG1,2,P1,2,1,000,` as if `1,000` were two values.
    A row wider than that stops the read with "Expected Number of Columns" (see fields_beyond).
    """
    taken = list(columns)
    extras = []
    for i in range(extra_fields):
        extras.append(internal_name(f"__salesdw_field_{len(columns) + i + 1}", taken + extras))
    row_number, count, cut = (
        internal_name(n, taken + extras) for n in (ROW_NUMBER, "__salesdw_field_count", "__salesdw_cut_short")
    )
    read = columns + extras
    # No sniffing: the dialect and the columns are given, so DuckDB cannot guess its way into
    # skipping "odd" leading rows or a comment character; every data row is read as text.
    column_types = "{" + ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in read) + "}"
    reader = (
        f"read_csv({quote_literal(str(text_path))}, auto_detect = false, header = true, "
        f"columns = {column_types}, delim = {quote_literal(delimiter)}, quote = {quote_literal(quote)}, "
        f"escape = {quote_literal(quote)}, strict_mode = true, null_padding = true, "
        f"nullstr = {quote_literal(_NO_NULL_TEXT)}, "
        f"compression = {quote_literal('gzip' if compressed else 'none')}, encoding = 'utf-8', "
        f"max_line_size = {int(max_line_bytes)}"
        f"{', parallel = false' if serial else ''})"
    )
    fields = " + ".join(f"cast({quote_ident(c)} is not null as integer)" for c in read)
    # Short rows end in NULLs (padding): the last header field set and the first extra one not
    # set is the common case, and the only one that needs no count.
    count_sql = (
        f"case when {quote_ident(columns[-1])} is not null and {quote_ident(extras[0])} is null "
        f"then null else {fields} end"
    )
    cut_sql = (
        (
            f", coalesce({quote_ident(count)} < {len(columns)} and {quote_ident(row_number)} = count(*) over (), "
            f"false) as {quote_ident(cut)}"
        )
        if cut_possible
        else ""
    )
    projection = ", ".join(
        [f"nullif({quote_ident(c)}, '') as {quote_ident(c)}" for c in columns] + [quote_ident(c) for c in extras]
    )
    relation = (
        f"(select {quote_ident(row_number)}, {quote_ident(count)}{cut_sql}, {projection} from "
        f"(select row_number() over () as {quote_ident(row_number)}, {count_sql} as {quote_ident(count)}, * "
        f"from {reader}))"
    )
    extra_pairs = [(f"(field {len(columns) + i + 1})", quote_ident(c)) for i, c in enumerate(extras)]
    return (
        relation,
        columns,
        quote_ident(count),
        quote_ident(cut) if cut_possible else None,
        extra_pairs,
        quote_ident(row_number),
    )


def _open_parquet(con, path: Path) -> SourceTable:
    reader = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
    columns = [c for c in con.sql(f"select * from {reader} limit 0").columns if c != "file_row_number"]
    _checked_columns(columns)
    projection = ", ".join(f"cast({quote_ident(c)} as varchar) as {quote_ident(c)}" for c in columns)
    row_number = quote_ident(internal_name(ROW_NUMBER, columns))
    return SourceTable(
        f"(select file_row_number + 1 as {row_number}, {projection} from {reader})", columns, row_number=row_number
    )


def _first_character(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")[:1]


def _open_json(con, path: Path, fmt: str, spec: SourceSpec, tmp_dir: Path) -> SourceTable:
    text_path, cleanup = _text_file(path, fmt, spec.encoding, tmp_dir)
    table = _unique_name("json_src")
    layout = "array" if fmt == "json" else "newline_delimited"
    # The two JSON layouts are easy to swap when saving a file: name the mix-up instead of a parse error.
    first = _first_character(text_path)
    if fmt == "json" and first == "{":
        for fn in cleanup:
            fn()
        raise ReadError(
            "holds JSON lines (one object per line), not one JSON array: name it .jsonl or declare `format: jsonl`"
        )
    if fmt == "jsonl" and first == "[":
        for fn in cleanup:
            fn()
        raise ReadError(
            "holds a JSON array, not JSON lines (one object per line): name it .json or declare `format: json`"
        )
    try:
        con.execute(
            f"create temp table {table} as select row_number() over () as {ROW_NUMBER}, json "
            f"from read_json_objects({quote_literal(str(text_path))}, format = {quote_literal(layout)})"
        )
    finally:
        for fn in cleanup:
            fn()
    drop = [lambda: con.execute(f"drop table if exists {table}")]
    bad = con.execute(f"select min({ROW_NUMBER}) from {table} where json_type(json) <> 'OBJECT'").fetchone()[0]
    if bad is not None:
        drop[0]()
        raise ReadError(f"record {bad} is not a JSON object")
    # Columns: every key of any record, in order of first appearance.
    keys = [
        k
        for (k,) in con.execute(
            f"select key from (select key, row_number() over (order by rn, pos) as seq from ("
            f"select {ROW_NUMBER} as rn, unnest(json_keys(json)) as key, "
            f"unnest(range(len(json_keys(json)))) as pos from {table})) group by key order by min(seq)"
        ).fetchall()
    ]
    try:
        _checked_columns(keys)
    except ReadError:
        drop[0]()
        raise
    projection = "".join(
        f", json_extract_string(json, {quote_literal('$.' + quote_ident(k))}) as {quote_ident(k)}" for k in keys
    )
    row_number = quote_ident(internal_name(ROW_NUMBER, keys))
    return SourceTable(
        f"(select {ROW_NUMBER} as {row_number}{projection} from {table})", keys, drop, row_number=row_number
    )


def _cell_text(value) -> str | None:
    """An xlsx cell as the text a CSV export of it would hold."""
    if isinstance(value, str):
        return value.strip() or None  # spreadsheet text often carries NBSP / full-width spaces
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip() or None


def _open_xlsx(con, path: Path, spec: SourceSpec) -> SourceTable:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if spec.sheet is None:
            sheet = workbook.get_sheet_by_index(0)
        elif isinstance(spec.sheet, int):
            sheet = workbook.get_sheet_by_index(spec.sheet - 1)
        else:
            sheet = workbook.get_sheet_by_name(spec.sheet)
    except Exception as exc:  # calamine raises its own error types (zip, xml, missing sheet)
        wanted = f"sheet {spec.sheet!r}" if spec.sheet is not None else "the first sheet"
        raise ReadError(f"cannot read {wanted} of the workbook: {one_line(exc)}") from None
    rows = sheet.iter_rows()
    first_row = sheet.start[0] if sheet.start else 0  # calamine skips leading empty rows
    header = None
    for _ in range(max(spec.header_row - 1 - first_row, 0) + 1):
        header = next(rows, None)
    if header is None:
        raise ReadError(f"no header row {spec.header_row} in sheet {sheet.name!r}")
    columns, duplicated = _checked_columns([_cell_text(v) or f"column{i + 1}" for i, v in enumerate(header)])
    width = len(columns)
    schema = pa.schema([(c, pa.string()) for c in columns])

    def batches():
        buffer: list[list[str | None]] = [[] for _ in range(width)]
        count = 0
        for row in rows:
            texts = [_cell_text(v) for v in row[:width]]
            if not any(t is not None for t in texts):
                continue  # blank spreadsheet rows are layout, not data rows
            texts += [None] * (width - len(texts))
            for i, t in enumerate(texts):
                buffer[i].append(t)
            count += 1
            if count == _XLSX_BATCH_ROWS:
                yield pa.record_batch(buffer, schema=schema)
                buffer, count = [[] for _ in range(width)], 0
        if count:
            yield pa.record_batch(buffer, schema=schema)

    view = _unique_name("xlsx_src")
    con.register(view, pa.RecordBatchReader.from_batches(schema, batches()))
    row_number = quote_ident(internal_name(ROW_NUMBER, columns))
    return SourceTable(
        f"(select row_number() over () as {row_number}, * from {view})",
        columns,
        [lambda: con.unregister(view)],
        duplicated,
        row_number=row_number,
    )


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip() or "column"
        key = name.lower()
        if key in seen:
            seen[key] += 1
            name = f"{name}_{seen[key]}"
        else:
            seen[key] = 0
        out.append(name)
    return out
