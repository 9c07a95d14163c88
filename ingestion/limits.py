"""Limits on what one landed file may make the reader hold, checked before the file is read.

DuckDB's memory limit bounds DuckDB, not the readers in front of it: calamine inflates a whole
worksheet (and its shared strings) into memory, and Python's csv module reads a whole header
line. A hostile or broken file is refused up front with its reason instead:
- xlsx: the workbook's XML, inflated, and the number of cells of its worksheets, counted while
  streaming through the zip members in chunks (the sizes a zip declares are not trusted);
- delimited text: the header line, read in bounded chunks (DuckDB stops longer data lines itself,
  at the same `max_line_size`).
The limits are Settings (SALESDW_XLSX_MAX_BYTES, SALESDW_XLSX_MAX_CELLS, SALESDW_MAX_LINE_BYTES).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20
# A real export's XML is a few bytes of markup per cell: 128 MB is some 3 million cells of text.
XLSX_MAX_BYTES = 128 * 1024 * 1024
# calamine holds every cell of the sheet at once; larger tables are exported as CSV.
XLSX_MAX_CELLS = 5_000_000
MAX_LINE_BYTES = 2_000_000  # DuckDB's default max_line_size


@dataclass(frozen=True)
class ReadLimits:
    xlsx_max_bytes: int = XLSX_MAX_BYTES
    xlsx_max_cells: int = XLSX_MAX_CELLS
    max_line_bytes: int = MAX_LINE_BYTES


class LimitExceeded(Exception):
    """The file is over a limit; the message says which and by how much (no file name: the
    caller prefixes it)."""


def check_xlsx(path: Path, limits: ReadLimits) -> None:
    """Refuse a workbook whose XML inflates beyond xlsx_max_bytes or whose worksheets hold more
    than xlsx_max_cells cells. Not a zip at all: left to the reader, which says so."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        declared = sum(m.file_size for m in members)
        if declared > limits.xlsx_max_bytes:
            raise LimitExceeded(_too_big(declared, limits))
        inflated, cells = 0, 0
        for member in members:
            sheet = member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")
            try:
                size, count = _stream(archive, member, limits.xlsx_max_bytes - inflated, sheet)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
                return  # a damaged member: the reader reports it
            inflated += size
            cells += count
            if inflated > limits.xlsx_max_bytes:
                raise LimitExceeded(_too_big(inflated, limits, at_least=True))
            if cells > limits.xlsx_max_cells:
                raise LimitExceeded(
                    f"the workbook has more than {limits.xlsx_max_cells:,} cells "
                    "(SALESDW_XLSX_MAX_CELLS): export a table this large as CSV"
                )


def check_file(path: Path, fmt: str | None, limits: ReadLimits) -> None:
    """The checks that apply to a file read as `fmt` (the others have none)."""
    if fmt in ("csv", "csv.gz", "tsv", "tsv.gz"):
        check_first_line(path, fmt.endswith(".gz"), limits)
    elif fmt == "xlsx":
        check_xlsx(path, limits)


def _too_big(size: int, limits: ReadLimits, at_least: bool = False) -> str:
    return (
        f"the workbook inflates to {'more than ' if at_least else ''}{size / 2**20:,.0f} MB of XML, more than "
        f"the {limits.xlsx_max_bytes / 2**20:,.0f} MB allowed (SALESDW_XLSX_MAX_BYTES): a huge cell, "
        "or a table this large (export it as CSV)?"
    )


def _stream(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int, count_cells: bool) -> tuple[int, int]:
    """(bytes inflated, cells) of one member, reading at most budget + 1 bytes of it."""
    size, cells, tail = 0, 0, b""
    with archive.open(member) as fh:
        while size <= budget and (chunk := fh.read(min(_CHUNK, budget + 1 - size))):
            size += len(chunk)
            if count_cells:
                text = tail + chunk
                cells += text.count(b"<c ") + text.count(b"<c>")
                tail = text[-2:]
    return size, cells


def check_first_line(path: Path, compressed: bool, limits: ReadLimits) -> None:
    """Refuse a text file whose first line (the header) is longer than max_line_bytes, reading
    at most that many bytes of it."""
    import gzip

    opener = gzip.open if compressed else open
    seen = 0
    try:
        with opener(path, "rb") as fh:
            while seen <= limits.max_line_bytes:
                chunk = fh.read(min(_CHUNK, limits.max_line_bytes + 1 - seen))
                if not chunk or b"\n" in chunk or b"\r" in chunk:
                    return
                seen += len(chunk)
    except (OSError, EOFError):
        return  # the reader names a damaged file
    raise LimitExceeded(
        f"no line break in the first {limits.max_line_bytes:,} bytes: the header line is longer "
        "than the maximum line size (SALESDW_MAX_LINE_BYTES; not a text table?)"
    )
