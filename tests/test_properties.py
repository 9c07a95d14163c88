"""Property-based tests (hypothesis) for the value parsers and the ledger invariant.

The parsers are the SQL the mapping builds for a file (ingestion/mapping.py); they are run here on
generated texts in an in-memory DuckDB, and their results compared with plain-Python readings of
the same texts. Encodings and the rows-read invariant go through real files and `ingest`.
Examples are derandomized so CI sees the same cases every run; no example database is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import tempfile
import textwrap
import unicodedata
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from unittest import mock

import duckdb
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ingestion.readers as readers
from ingestion.canonical import ENTITIES
from ingestion.loader import ingest
from ingestion.mapping import EARLIEST_DATE, REASON, Horizon, build_query
from ingestion.profile import load_profile
from ingestion.readers import ROW_NUMBER, SourceTable

FAST = settings(max_examples=80, deadline=None, derandomize=True, database=None)
FILES = settings(max_examples=20, deadline=None, derandomize=True, database=None)

EXCEL_DAY_ZERO = date(1899, 12, 30)  # serials from 61 on (Excel counts a 29 Feb 1900 that never was)
EARLIEST = date.fromisoformat(EARLIEST_DATE)


# --- running the parsers on texts -----------------------------------------------------------------


def profile_from(text: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "prop_profile.yml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_profile(path)


CANONICAL = load_profile("canonical")


_con = duckdb.connect()  # one in-memory engine for every example


def parse(prof, entity: str, column: str, texts: list[str | None], fixed: dict[str, str]) -> list[tuple]:
    """(typed value, quarantine reason) of each text in `column`, the other columns set to `fixed`."""
    spec = prof.sources_for([entity])[0]
    columns = [column, *fixed]
    _con.execute(f"create or replace temp table src ({', '.join(f'{c} varchar' for c in columns)})")
    _con.executemany(
        f"insert into src values ({', '.join('?' for _ in columns)})", [[t, *fixed.values()] for t in texts]
    )
    source = SourceTable(f"(select row_number() over () as {ROW_NUMBER}, * from src)", columns)
    # the future-date horizon is tested in test_bad_input_corpus; here every date up to 9999 reads
    no_horizon = Horizon(EARLIEST, (date.max - EARLIEST).days)
    sql = build_query(spec, ENTITIES[entity], source, "CNY", no_horizon)
    return _con.execute(f"select {column}, {REASON} from ({sql}) order by {ROW_NUMBER}").fetchall()


REP = {"rep_id": "R1", "team_id": "T1"}  # reps.hire_date: an optional DATE column
EXPENSE = {"expense_id": "E1", "expense_date": "2024-01-02", "team_id": "T1", "category": "travel"}
ACTIVITY = {"activity_id": "A1", "rep_id": "R1", "activity_type": "call"}  # occurred_at: TIMESTAMP


def strict_date(text: str) -> date | None:
    """Plain-Python reading of Y-M-D: the date the text names, if it names one."""
    m = re.fullmatch(r"(\d{1,4})-(\d{1,2})-(\d{1,2})", text.strip(" "))
    if not m:
        return None
    try:
        return date(*(int(g) for g in m.groups()))
    except ValueError:
        return None


# --- dates -------------------------------------------------------------------------------------


@FAST
@given(st.lists(st.dates(min_value=EARLIEST, max_value=date(9999, 12, 31)), min_size=1, max_size=40))
def test_iso_dates_read_back_exactly(days):
    got = parse(CANONICAL, "reps", "hire_date", [d.isoformat() for d in days], REP)
    assert got == [(d, None) for d in days]


date_like = st.one_of(
    st.text(alphabet="0123456789-/ .:T", max_size=12),
    st.builds(
        lambda y, m, d, sep: f"{y}{sep}{m}{sep}{d}",
        st.integers(0, 12000),
        st.integers(0, 14),
        st.integers(0, 33),
        st.sampled_from(["-", "/", "."]),
    ),
)


@FAST
@given(st.lists(date_like, min_size=1, max_size=40))
def test_a_date_text_is_read_as_the_date_it_names_or_quarantined(texts):
    for text, (value, reason) in zip(texts, parse(CANONICAL, "reps", "hire_date", texts, REP)):
        if text.strip(" ") == "":
            assert (value, reason) == (None, None)  # empty = NULL for an optional column
            continue
        named = strict_date(text)
        if reason is None:
            # loaded: exactly the date the text names, never another one
            assert value == named and named >= EARLIEST, text
        else:
            assert reason.startswith("hire_date: "), reason
            assert named is None or named < EARLIEST, text  # a real, plausible date is never refused


EXCEL_DATES = profile_from("""
    entities:
      reps: {files: x.csv, columns_by_name: true, date_formats: ["%Y-%m-%d", excel]}
      activities: {files: x.csv, columns_by_name: true, timestamp_formats: [excel]}
""")


@FAST
@given(st.lists(st.integers(61, 2958465), min_size=1, max_size=40))
def test_excel_serial_days_when_declared(serials):
    got = parse(EXCEL_DATES, "reps", "hire_date", [str(n) for n in serials], REP)
    assert got == [(EXCEL_DAY_ZERO + timedelta(days=n), None) for n in serials]


@FAST
@given(st.lists(st.tuples(st.integers(61, 2958464), st.integers(0, 86399)), min_size=1, max_size=40))
def test_excel_serial_timestamps_when_declared(serials):
    texts = [repr(day + second / 86400) for day, second in serials]
    got = parse(EXCEL_DATES, "activities", "occurred_at", texts, ACTIVITY)
    for (day, second), (value, reason) in zip(serials, got):
        expected = datetime.combine(EXCEL_DAY_ZERO, datetime.min.time()) + timedelta(days=day, seconds=second)
        assert reason is None and abs(value - expected) < timedelta(milliseconds=5), (day, second, value)


# --- amounts -----------------------------------------------------------------------------------

money = st.decimals(
    min_value=Decimal("-9999999999999999.99"),
    max_value=Decimal("9999999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@FAST
@given(st.lists(money, min_size=1, max_size=40))
def test_plain_amounts_read_back_exactly(amounts):
    got = parse(CANONICAL, "expenses", "amount", [str(a) for a in amounts], EXPENSE)
    assert got == [(a, None) for a in amounts]


def grouped(amount: Decimal, thousands: str, decimal: str) -> str:
    text = f"{amount:,.2f}"  # 1,234,567.89
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


SEPARATORS = [(",", "."), (".", ","), (" ", ","), ("'", ".")]
SEPARATOR_PROFILES = {
    (thousands, decimal): profile_from(f"""
        entities:
          expenses:
            files: x.csv
            columns_by_name: true
            thousands: "{thousands}"
            decimal: "{decimal}"
            currency_symbols: ["¥", "元"]
    """)
    for thousands, decimal in SEPARATORS
}


@FAST
@given(
    st.lists(st.tuples(money, st.sampled_from(["", "¥", "¥ "]), st.sampled_from(["", "元"])), min_size=1, max_size=40),
    st.sampled_from(SEPARATORS),
)
def test_declared_separators_and_currency_symbols_read_back_exactly(rows, separators):
    thousands, decimal = separators
    texts = [f"{prefix}{grouped(a, thousands, decimal)}{suffix}" for a, prefix, suffix in rows]
    got = parse(SEPARATOR_PROFILES[separators], "expenses", "amount", texts, EXPENSE)
    assert got == [(a, None) for a, _, _ in rows], texts


def python_amount(text: str, scale: int) -> Decimal | None:
    """Plain-Python reading of an amount: a decimal number, rounded half away from zero."""
    try:
        value = Decimal(text.strip(" "))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    try:
        return value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than any amount column holds
        return None


@FAST
@given(st.lists(st.text(alphabet="0123456789.,-+e_ ", min_size=1, max_size=10), min_size=1, max_size=40))
def test_an_amount_text_is_read_as_its_number_or_quarantined(texts):
    for text, (value, reason) in zip(texts, parse(CANONICAL, "expenses", "amount", texts, EXPENSE)):
        if text.strip(" ") == "":
            assert reason == "amount: required value is empty"
        elif reason is None:
            assert "," not in text, text  # a comma is not a decimal point in the canonical format
            assert value == python_amount(text, 2), text
        else:
            assert reason.startswith("amount: cannot parse "), reason


@FAST
@given(st.lists(st.text(alphabet="0123456789.-+e ", min_size=1, max_size=8), min_size=1, max_size=40))
def test_an_integer_text_is_a_whole_number_or_quarantined(texts):
    fixed = {"response_id": "S1", "survey_type": "nps", "submitted_at": "2024-01-01 00:00:00"}
    for text, (value, reason) in zip(texts, parse(CANONICAL, "survey_responses", "score", texts, fixed)):
        number = python_amount(text, 6) if text.strip(" ") else None
        if reason is None:
            assert number is not None and number == int(number) == value, text  # never rounded
        if re.fullmatch(r"[+-]?\d{1,6}", text.strip(" ")) and 0 <= int(text) <= 10:
            assert (value, reason) == (int(text), None), text  # a plain whole score always loads


# --- encodings (real files) ----------------------------------------------------------------------

cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12)


def write_csv(path: Path, rows: list[tuple[str, str]], encoding: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["team_id", "team_name"])
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))


# The Unicode space separators (category Zs): what DuckDB's trim() removes at both ends of a value.
SPACES = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Zs")


def expected_cell(text: str) -> str | None:
    return text.strip(SPACES) or None  # values are trimmed of spaces (NBSP too); empty = NULL


def teams_profile(folder: Path, encoding: str):
    path = folder / "enc.yml"
    path.write_text(f"entities:\n  teams: {{files: ['*.csv'], encoding: {encoding}, columns_by_name: true}}\n")
    return load_profile(path)


def ingest_teams(folder: Path, prof):
    result = ingest(folder / "landing", prof, folder / "raw", folder / "quality")
    rows = []
    if any((folder / "raw" / "teams").glob("*.parquet")):
        with duckdb.connect() as con:
            rows = con.execute(
                f"select team_id, team_name from read_parquet('{folder}/raw/teams/*.parquet') order by _row_number"
            ).fetchall()
    return result.files, rows


@FILES
@given(
    st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=8),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-16-le"]),
)
def test_any_text_in_the_declared_encoding_reads_back_exactly(rows, encoding):
    rows = [(f"T{i}", name) for i, (_, name) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(readers, "_CHUNK_BYTES", 3):
        folder = Path(tmp)  # 3-byte chunks: multi-byte characters straddle every chunk boundary
        write_csv(folder / "landing" / "t.csv", rows, encoding)
        files, loaded = ingest_teams(folder, teams_profile(folder, encoding))
    assert [(f.status, f.rows_read, f.rows_loaded) for f in files] == [("loaded", len(rows), len(rows))]
    assert loaded == [(team_id, expected_cell(name)) for team_id, name in rows]


non_ascii_text = cell_text.filter(lambda t: not t.isascii())


@FILES
@given(
    st.lists(non_ascii_text, min_size=1, max_size=5),
    st.sampled_from([("utf-8", "gb18030"), ("utf-8", "latin-1"), ("utf-16", "utf-8"), ("gb18030", "utf-8")]),
)
def test_text_in_another_encoding_than_declared_is_never_misread(names, written_declared):
    written, declared = written_declared
    rows = [(f"T{i}", name) for i, name in enumerate(names)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_csv(folder / "landing" / "t.csv", rows, written)
        data = (folder / "landing" / "t.csv").read_bytes()
        files, loaded = ingest_teams(folder, teams_profile(folder, declared))
    (outcome,) = files
    if outcome.status == "rejected":
        assert outcome.error.startswith("t.csv: ") and "\n" not in outcome.error
        return
    # Loaded only where the bytes really are valid in the declared encoding and read as such:
    # GB18030 bytes that happen to form valid UTF-8 are indistinguishable from UTF-8.
    assert (written, declared) == ("gb18030", "utf-8"), outcome
    text = data.decode("utf-8")
    assert loaded == [tuple(expected_cell(v) for v in row) for row in list(csv.reader(io.StringIO(text)))[1:]]


# --- the ledger invariant on random mixes of good and bad rows ------------------------------------

GOOD = "good"
DEFECTS = {  # defect -> (how it spoils a good row, the reason it must be quarantined with)
    "empty_key": (lambda r: {**r, "order_id": ""}, "order_id: required value is empty"),
    "bad_date": (lambda r: {**r, "order_date": "2024-02-30"}, "order_date: cannot parse '2024-02-30' as date"),
    "two_digit_year": (
        lambda r: {**r, "order_date": "24-02-03"},
        "order_date: '24-02-03' is before 1900-01-01 (a 2-digit year?)",
    ),
    "bad_status": (lambda r: {**r, "status": "shipped"}, "status: 'shipped' not in (completed, cancelled, pending)"),
    "bad_currency": (
        lambda r: {**r, "currency": "usd"},
        "currency: 'usd' is not an ISO 4217 code (three capital letters)",
    ),
}
ORDER_COLUMNS = ["order_id", "account_id", "rep_id", "opportunity_id", "order_date", "status", "channel", "currency"]


@FILES
@given(
    st.lists(st.tuples(st.sampled_from([GOOD, GOOD, *DEFECTS]), cell_text), min_size=0, max_size=30), st.integers(1, 3)
)
@example(rows=[(GOOD, "\xa0"), (GOOD, "\u3000x\u3000")], files=1)  # NBSP alone is empty; ideographic spaces trim
def test_rows_read_equal_rows_loaded_plus_rows_quarantined(rows, files):
    """Any mix of good and bad rows over 1-3 files: every row is loaded or quarantined, once, with
    its file and row number; the ledger adds up per file."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        expected_loaded, expected_quarantined, contents = [], [], []
        for f in range(files):
            mine = rows[f::files]
            buffer = io.StringIO(newline="")
            writer = csv.DictWriter(buffer, ORDER_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            for n, (kind, channel) in enumerate(mine, start=1):
                row = {
                    "order_id": f"O{f}-{n}",
                    "account_id": f"A{f}",
                    "rep_id": "",
                    "opportunity_id": "",
                    "order_date": "2024-02-03",
                    "status": "completed",
                    "channel": channel,
                    "currency": "CNY",
                }
                if kind == GOOD:
                    expected_loaded.append((f"orders/f{f}.csv", n, row["order_id"], expected_cell(channel)))
                else:
                    spoil, reason = DEFECTS[kind]
                    row = spoil(row)
                    expected_quarantined.append((f"orders/f{f}.csv", n, reason, row["channel"]))
                writer.writerow(row)
            path = folder / "landing" / "orders" / f"f{f}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
            contents.append(buffer.getvalue())
        result = ingest(folder / "landing", "canonical", folder / "raw", folder / "quality")
        with duckdb.connect() as con:
            loaded = con.execute(
                "select _source_file, _row_number, order_id, channel"
                f" from read_parquet('{folder}/raw/orders/*.parquet') "
                "order by _source_file, _row_number"
            ).fetchall()
            quarantined = (
                []
                if not any((folder / "quality" / "quarantine").glob("*.parquet"))
                else con.execute(
                    "select file_path, row_number, reason, raw_record"
                    f" from read_parquet('{folder}/quality/quarantine/*.parquet') "
                    "order by file_path, row_number"
                ).fetchall()
            )
            ledger = con.execute(
                "select file_path, rows_read, rows_loaded, rows_quarantined"
                f" from read_parquet('{folder}/quality/ledger/*.parquet') "
                "order by file_path"
            ).fetchall()
    # Two files can only be equal when both are a bare header: the second is the same file again.
    assert [f.status for f in result.files] == [
        "duplicate_file" if c in contents[:i] else "loaded" for i, c in enumerate(contents)
    ]
    assert loaded == sorted(expected_loaded)
    assert [(p, n, r, json.loads(raw)["channel"]) for p, n, r, raw in quarantined] == sorted(expected_quarantined)
    for path, read, ok, bad in ledger:
        assert read == ok + bad == sum(1 for e in expected_loaded + expected_quarantined if e[0] == path)
        assert ok == sum(1 for e in expected_loaded if e[0] == path)
    assert sum(r[1] for r in ledger) == len(rows)
