"""The bad-input corpus: every hostile file people hand over, generated here, with its exact outcome
from the "Bad input" table of exports.md.

Each case lands its bad file(s) next to a good file, ingests them in one run, and checks:
- the bad file's outcome exactly (rejected with a one-line reason naming the file and the column or
  line; or its rows loaded / quarantined with the reason naming the column and row);
- the good file of the same run still loads;
- the ledger adds up, counted from the Parquet files themselves: one ledger row per file attempt,
  rows_read = rows_loaded + rows_quarantined, the raw batch holds rows_loaded rows and the quarantine
  batch rows_quarantined rows, and a rejected or duplicate file has 0 rows and no batch at all.

Deeper format tests (declared encodings, Excel workbooks, profiles) live in test_ingestion_*.py;
this file is the catalogue the README's reliability section counts.
"""

from __future__ import annotations

import gzip
import io
import json
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

import ingestion.loader as loader
from ingestion.ledger import read_ledger
from ingestion.loader import IngestResult, ingest
from ingestion.profile import load_profile
from tests.support import build_warehouse, query

ORDERS = "order_id,account_id,rep_id,opportunity_id,order_date,status,channel,currency\n"
GOOD_ORDER = "G1,A1,R1,,2024-01-02,completed,web,CNY\n"
TEAMS = "team_id,team_name,region\n"


# --- helpers ----------------------------------------------------------------------------------


def land(tmp_path: Path, relative: str, data: str | bytes) -> Path:
    path = tmp_path / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def profile(tmp_path: Path, text: str):
    path = tmp_path / "corpus_profile.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_profile(path)


def run(tmp_path: Path, prof="canonical") -> IngestResult:
    result = ingest(tmp_path / "landing", prof, tmp_path / "raw", tmp_path / "quality")
    assert_ledger_adds_up(tmp_path, result)
    return result


def parquet_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with duckdb.connect() as con:
        return con.execute("select count(*) from read_parquet(?)", [str(path)]).fetchone()[0]


def assert_ledger_adds_up(tmp_path: Path, result: IngestResult) -> None:
    ledger = read_ledger(tmp_path / "quality").set_index("batch_id")
    for f in result.files:
        row = ledger.loc[f.batch_id]  # one committed ledger row per file attempt
        assert (row.status, row.rows_read, row.rows_loaded, row.rows_quarantined) == (
            f.status,
            f.rows_read,
            f.rows_loaded,
            f.rows_quarantined,
        ), f.file_path
        assert row.rows_read == row.rows_loaded + row.rows_quarantined, f.file_path
        raw_batch = tmp_path / "raw" / f.entity / f"{f.batch_id}.parquet"
        quarantine_batch = tmp_path / "quality" / "quarantine" / f"{f.batch_id}.parquet"
        assert parquet_rows(raw_batch) == f.rows_loaded, f.file_path
        assert parquet_rows(quarantine_batch) == f.rows_quarantined, f.file_path
        if f.status != "loaded":
            assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (0, 0, 0), f.file_path
            assert not raw_batch.exists() and not quarantine_batch.exists(), f.file_path
        if f.status == "rejected":
            assert f.error.startswith(f"{f.file_path}: ") and "\n" not in f.error, f.error
    assert len(ledger) == len(set(ledger.index)), "a batch id committed twice"


def outcome(result: IngestResult, file_path: str):
    (found,) = [f for f in result.files if f.file_path == file_path]
    return found


def status(result: IngestResult) -> dict[str, tuple]:
    return {f.file_path: (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files}


def raw(tmp_path: Path, entity: str, columns: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            f"select {columns} from read_parquet('{tmp_path}/raw/{entity}/*.parquet') order by _batch_id, _row_number"
        ).fetchall()


def quarantined(tmp_path: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            f"select file_path, row_number, reason, raw_record from read_parquet("
            f"'{tmp_path}/quality/quarantine/*.parquet') order by batch_id, row_number"
        ).fetchall()


def rejected_with(result: IngestResult, file_path: str) -> str:
    found = outcome(result, file_path)
    assert found.status == "rejected", (file_path, found)
    return found.error


def good_order_loaded(tmp_path: Path, result: IngestResult) -> None:
    assert status(result)["orders/good.csv"] == ("loaded", 1, 1, 0)
    assert ("G1",) in raw(tmp_path, "orders", "order_id")


# --- whole-file problems: rejected, the good file still loads ----------------------------------


def test_truncated_csv_ending_inside_a_quoted_field(tmp_path):
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    land(
        tmp_path,
        "orders/cut.csv",
        ORDERS + 'O1,A1,R1,,2024-01-02,completed,web,CNY\nO2,A1,R1,,2024-01-02,completed,"web, di',
    )
    result = run(tmp_path)
    error = rejected_with(result, "orders/cut.csv")
    assert "CSV Error on Line: 3" in error and "unterminated quote" in error
    good_order_loaded(tmp_path, result)


def test_truncated_gzip_download(tmp_path):
    rows = ORDERS + "".join(f"O{i},A1,R1,,2024-01-02,completed,web,CNY\n" for i in range(20_000))
    compressed = gzip.compress(rows.encode())
    land(tmp_path, "orders/big.csv.gz", compressed[: len(compressed) * 2 // 3])
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "orders/big.csv.gz").startswith(
        "orders/big.csv.gz: IO Error: Unexpected end of GZIP stream"
    )
    good_order_loaded(tmp_path, result)
    assert raw(tmp_path, "orders", "order_id") == [("G1",)]  # not one row of the cut file


def test_empty_file(tmp_path):
    land(tmp_path, "orders/empty.csv", b"")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "orders/empty.csv") == "orders/empty.csv: file is empty (no header row)"
    good_order_loaded(tmp_path, result)


def test_header_only_file_is_an_export_of_nothing(tmp_path):
    land(tmp_path, "orders/none_today.csv", ORDERS)
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert status(result)["orders/none_today.csv"] == ("loaded", 0, 0, 0)
    good_order_loaded(tmp_path, result)


def test_wrong_delimiter(tmp_path):
    land(tmp_path, "orders/semicolons.csv", (ORDERS + "O1,A1,R1,,2024-01-02,completed,web,CNY\n").replace(",", ";"))
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "orders/semicolons.csv") == (
        "orders/semicolons.csv: missing required column 'order_id', required column 'account_id', "
        "required column 'order_date', required column 'status' (the header is one column: is the delimiter ';'?)"
    )
    good_order_loaded(tmp_path, result)


def test_missing_required_column(tmp_path):
    land(tmp_path, "orders/no_date.csv", "order_id,account_id,status\nO1,A1,completed\n")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "orders/no_date.csv") == "orders/no_date.csv: missing required column 'order_date'"
    good_order_loaded(tmp_path, result)


def test_extra_and_reordered_columns_load_by_name(tmp_path):
    land(
        tmp_path,
        "orders/reordered.csv",
        "Exported By,status,currency,order_date,account_id,order_id,internal_note\n"
        "jo,completed,CNY,2024-02-03,A7,O7,call back\n",
    )
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert status(result)["orders/reordered.csv"] == ("loaded", 1, 1, 0)
    assert raw(tmp_path, "orders", "order_id, account_id, rep_id, order_date, status, currency") == [
        ("G1", "A1", "R1", date(2024, 1, 2), "completed", "CNY"),
        ("O7", "A7", None, date(2024, 2, 3), "completed", "CNY"),
    ]


def test_duplicated_header_names(tmp_path):
    # Two `status` columns that disagree: which one is the order's status is anybody's guess.
    land(
        tmp_path,
        "orders/two_status.csv",
        ORDERS.rstrip("\n") + ",Status\nO1,A1,R1,,2024-01-02,completed,web,CNY,cancelled\n",
    )
    # A repeated column the profile does not read is harmless.
    land(
        tmp_path,
        "orders/two_notes.csv",
        ORDERS.rstrip("\n") + ",note,note\nO2,A1,R1,,2024-01-02,completed,web,CNY,a,b\n",
    )
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "orders/two_status.csv") == (
        "orders/two_status.csv: column 'status' appears more than once in the header"
    )
    assert status(result)["orders/two_notes.csv"] == ("loaded", 1, 1, 0)
    good_order_loaded(tmp_path, result)


def test_column_renamed_by_excel(tmp_path):
    # Required column renamed: rejected, and the message points at the renamed header.
    land(
        tmp_path,
        "expenses/e.csv",
        "expense_id,expense_date,team_id,category,Amount (CNY)\nE1,2024-01-02,T1,travel,100\n",
    )
    # Optional column renamed: reading NULL would silently zero every deal's amount.
    land(tmp_path, "opportunities/o.csv", "opportunity_id,owner_rep_id,stage,Amount (CNY)\nP1,R1,prospecting,250\n")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "expenses/e.csv") == (
        "expenses/e.csv: missing required column 'amount' (found 'Amount (CNY)': renamed?)"
    )
    assert rejected_with(result, "opportunities/o.csv") == (
        "opportunities/o.csv: column 'Amount (CNY)' looks like 'amount' renamed: rename it back to 'amount' "
        "or map it in a profile"
    )
    good_order_loaded(tmp_path, result)


ZH_TEAMS = TEAMS + "T1,华东一组,华东\nT2,华南组,华南\n"
GB18030_PROFILE = """
    name: zh_crm
    entities:
      teams:
        files: ["teams/*.csv"]
        encoding: gb18030
        columns_by_name: true
"""


def test_gb18030_file_in_a_utf8_folder(tmp_path):
    land(tmp_path, "teams/zh.csv", ZH_TEAMS.encode("gb18030"))
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "teams/zh.csv") == (
        "teams/zh.csv: not utf-8 encoded: declare the file's encoding in the profile"
    )
    good_order_loaded(tmp_path, result)


def test_utf8_file_declared_as_gb18030(tmp_path):
    land(tmp_path, "teams/a_utf8.csv", ZH_TEAMS)
    # UTF-8 'é' (C3 A9) is also a valid GB18030 character: read as declared, this file would load
    # as mojibake without a single decoding error.
    land(tmp_path, "teams/a_utf8_latin.csv", TEAMS + "T4,Société Générale,Paris\n")
    assert (TEAMS + "Société").encode().decode("gb18030") != TEAMS + "Société"
    land(tmp_path, "teams/b_gb18030.csv", (TEAMS + "T3,华北组,华北\n").encode("gb18030"))
    result = run(tmp_path, profile(tmp_path, GB18030_PROFILE))
    for name in ("teams/a_utf8.csv", "teams/a_utf8_latin.csv"):
        assert rejected_with(result, name) == (
            f"{name}: the file is UTF-8 encoded, but the profile declares gb18030: declare utf-8 "
            "(or re-export the file in the declared encoding)"
        )
    assert status(result)["teams/b_gb18030.csv"] == ("loaded", 1, 1, 0)
    assert raw(tmp_path, "teams", "team_id, team_name, region") == [("T3", "华北组", "华北")]


def test_mixed_encodings_within_one_file(tmp_path):
    # 20,000 UTF-8 rows, then one row saved from a Chinese Excel (GB18030): DuckDB's reader meets it.
    rows = "".join(f"T{i},Team {i},East\n" for i in range(20_000))
    land(tmp_path, "teams/mixed.csv", (TEAMS + rows).encode() + "T9,华南组,华南\n".encode("gb18030"))
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    error = rejected_with(result, "teams/mixed.csv")
    assert "CSV Error on Line: 20002" in error and "not utf-8 encoded" in error
    good_order_loaded(tmp_path, result)


def test_utf16_with_bom(tmp_path):
    land(tmp_path, "teams/utf16.csv", ZH_TEAMS.encode("utf-16"))  # Python writes the BOM first
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "teams/utf16.csv") == (
        "teams/utf16.csv: the file is UTF-16 (it starts with a UTF-16 byte-order mark), not utf-8: "
        "declare `encoding: utf-16` in the profile"
    )
    good_order_loaded(tmp_path, result)
    # Declared, the same bytes read correctly.
    declared = run(tmp_path, profile(tmp_path, GB18030_PROFILE.replace("gb18030", "utf-16")))
    assert status(declared) == {"teams/utf16.csv": ("loaded", 2, 2, 0)}
    assert raw(tmp_path, "teams", "team_id, team_name") == [("T1", "华东一组"), ("T2", "华南组")]


def test_zero_byte_xlsx(tmp_path):
    land(tmp_path, "budgets/budget.xlsx", b"")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "budgets/budget.xlsx") == "budgets/budget.xlsx: file is empty (no header row)"
    good_order_loaded(tmp_path, result)


def test_corrupt_xlsx(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["month", "team_id", "category", "budget_amount"])
    for i in range(300):
        workbook.active.append(["2025-01", f"T{i}", "travel", i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    land(tmp_path, "budgets/cut.xlsx", buffer.getvalue()[: len(buffer.getvalue()) // 2])  # half a download
    land(tmp_path, "budgets/renamed.xlsx", "month,team_id\n2025-01,T1\n")  # a CSV saved as .xlsx
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    for name in ("budgets/cut.xlsx", "budgets/renamed.xlsx"):
        assert rejected_with(result, name) == (
            f"{name}: cannot read the first sheet of the workbook: invalid Zip archive: Could not find EOCD"
        )
    good_order_loaded(tmp_path, result)


def test_json_array_versus_json_lines(tmp_path):
    objects = [{"team_id": "T1", "team_name": "North"}, {"team_id": "T2", "team_name": "South"}]
    land(tmp_path, "teams/lines_named.json", "\n".join(json.dumps(o) for o in objects) + "\n")
    land(tmp_path, "teams/array_named.jsonl", json.dumps(objects, indent=2))
    land(tmp_path, "teams/right.json", json.dumps(objects[:1]))
    land(tmp_path, "teams/right.jsonl", json.dumps(objects[1]) + "\n")
    result = run(tmp_path)
    assert rejected_with(result, "teams/lines_named.json") == (
        "teams/lines_named.json: holds JSON lines (one object per line), not one JSON array: "
        "name it .jsonl or declare `format: jsonl`"
    )
    assert rejected_with(result, "teams/array_named.jsonl") == (
        "teams/array_named.jsonl: holds a JSON array, not JSON lines (one object per line): "
        "name it .json or declare `format: json`"
    )
    assert status(result)["teams/right.json"] == ("loaded", 1, 1, 0)
    assert status(result)["teams/right.jsonl"] == ("loaded", 1, 1, 0)


def test_ten_thousand_columns(tmp_path):
    header = ["team_id", "team_name"] + [f"pivot_{i}" for i in range(9_998)]
    land(tmp_path, "teams/wide.csv", ",".join(header) + "\n" + ",".join(["T1", "N"] + ["1"] * 9_998) + "\n")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "teams/wide.csv") == (
        "teams/wide.csv: 10,000 columns, more than the 2,048 a table export can have (wrong delimiter, or not a table?)"
    )
    good_order_loaded(tmp_path, result)


def test_a_single_50_mb_line(tmp_path):
    land(tmp_path, "teams/huge.csv", TEAMS + "T1," + "x" * (50 << 20) + ",East\nT2,South,S\n")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert rejected_with(result, "teams/huge.csv") == (
        "teams/huge.csv: a line is longer than the maximum line size of 2,000,000 bytes"
    )
    good_order_loaded(tmp_path, result)
    assert not (tmp_path / "raw" / "teams").exists()


# --- row problems: quarantined with file, row, column and original text -------------------------


def test_embedded_newlines_and_quotes(tmp_path):
    land(
        tmp_path,
        "teams/t.csv",
        TEAMS
        + 'T1,"North\nEast ""big"" team",N\n'  # record 1 spans two lines
        + '"T2","South, ""central""",S\n'
        + ',"no\nid",X\n',
    )  # record 3 (lines 5-6 of the file): empty key
    result = run(tmp_path)
    assert status(result) == {"teams/t.csv": ("loaded", 3, 2, 1)}
    assert raw(tmp_path, "teams", "team_id, team_name, _row_number") == [
        ("T1", 'North\nEast "big" team', 1),
        ("T2", 'South, "central"', 2),
    ]
    [(path, row_number, reason, record)] = quarantined(tmp_path)
    assert (path, row_number, reason) == ("teams/t.csv", 3, "team_id: required value is empty")
    assert json.loads(record) == {"team_id": None, "team_name": "no\nid", "region": "X"}


EXPENSES = "expense_id,expense_date,team_id,category,amount\n"


def test_excel_serial_dates(tmp_path):
    land(tmp_path, "expenses/e.csv", EXPENSES + "E1,45000,T1,travel,10\nE2,2023-03-15,T1,travel,10\n")
    result = run(tmp_path)
    assert status(result) == {"expenses/e.csv": ("loaded", 2, 1, 1)}
    assert [q[:3] for q in quarantined(tmp_path)] == [
        ("expenses/e.csv", 1, "expense_date: cannot parse '45000' as date")
    ]
    # Declared, the serial is read as Excel's day count (1900 system): 45000 = 2023-03-15.
    land(tmp_path / "declared", "e.csv", EXPENSES + "E1,45000,T1,travel,10\n")
    declared = run(
        tmp_path / "declared",
        profile(
            tmp_path,
            """
        entities:
          expenses: {files: ["*.csv"], columns_by_name: true, date_formats: ["%Y-%m-%d", excel]}
    """,
        ),
    )
    assert status(declared) == {"e.csv": ("loaded", 1, 1, 0)}
    assert raw(tmp_path / "declared", "expenses", "expense_date") == [(date(2023, 3, 15),)]


def test_decimal_comma_amounts(tmp_path):
    land(tmp_path, "expenses/e.csv", EXPENSES + 'E1,2024-01-02,T1,travel,"1.234,50"\nE2,2024-01-02,T1,travel,1234.50\n')
    result = run(tmp_path)
    assert status(result) == {"expenses/e.csv": ("loaded", 2, 1, 1)}
    assert [q[:3] for q in quarantined(tmp_path)] == [
        ("expenses/e.csv", 1, "amount: cannot parse '1.234,50' as number")
    ]
    assert raw(tmp_path, "expenses", "expense_id, amount") == [("E2", Decimal("1234.50"))]
    land(tmp_path / "declared", "e.csv", EXPENSES + 'E1,2024-01-02,T1,travel,"1.234,50"\n')
    declared = run(
        tmp_path / "declared",
        profile(
            tmp_path,
            """
        entities:
          expenses: {files: ["*.csv"], columns_by_name: true, decimal: ",", thousands: "."}
    """,
        ),
    )
    assert status(declared) == {"e.csv": ("loaded", 1, 1, 0)}
    assert raw(tmp_path / "declared", "expenses", "amount") == [(Decimal("1234.50"),)]


def test_negative_quantities(tmp_path):
    land(
        tmp_path,
        "order_lines/l.csv",
        "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
        "O1,1,P1,-2,10,\nO1,2,P1,2,10,\nO1,3,P1,0,10,\n",
    )
    land(
        tmp_path,
        "returns/r.csv",
        "return_id,order_id,line_number,return_date,quantity,refund_amount\nR1,O1,1,2024-01-05,-1,-5\n",
    )
    result = run(tmp_path)
    assert status(result) == {"order_lines/l.csv": ("loaded", 3, 1, 2), "returns/r.csv": ("loaded", 1, 0, 1)}
    assert [q[:3] for q in quarantined(tmp_path)] == [
        ("order_lines/l.csv", 1, "quantity: must be > 0"),
        ("order_lines/l.csv", 3, "quantity: must be > 0"),
        ("returns/r.csv", 1, "refund_amount: must be >= 0; quantity: must be > 0"),
    ]
    assert raw(tmp_path, "order_lines", "line_number, quantity") == [(2, Decimal("2.0000"))]


def test_scores_out_of_range(tmp_path):
    header = "response_id,survey_type,submitted_at,score\n"
    rows = [
        ("S1", "nps", 0),
        ("S2", "nps", 10),
        ("S3", "nps", 11),
        ("S4", "nps", -1),
        ("S5", "csat", 1),
        ("S6", "csat", 5),
        ("S7", "csat", 0),
        ("S8", "csat", 6),
        ("S9", "nps", "9.5"),
    ]
    land(tmp_path, "survey_responses/s.csv", header + "".join(f"{r},{t},2024-05-01 08:00:00,{s}\n" for r, t, s in rows))
    result = run(tmp_path)
    assert status(result) == {"survey_responses/s.csv": ("loaded", 9, 4, 5)}
    assert raw(tmp_path, "survey_responses", "response_id, score") == [("S1", 0), ("S2", 10), ("S5", 1), ("S6", 5)]
    out_of_range = "score: out of range for survey_type (nps 0-10, csat 1-5)"
    assert [q[1:3] for q in quarantined(tmp_path)] == [
        (3, out_of_range),
        (4, out_of_range),
        (7, out_of_range),
        (8, out_of_range),
        (9, "score: cannot parse '9.5' as integer"),
    ]


# --- files landed twice, or still being written --------------------------------------------------


def test_the_same_file_under_two_names(tmp_path):
    text = ORDERS + "O1,A1,R1,,2024-01-02,completed,web,CNY\nO2,A1,R1,,2024-01-03,pending,web,CNY\n"
    land(tmp_path, "orders/export.csv", text)
    land(tmp_path, "orders/export (1).csv", text)  # the browser's second download
    result = run(tmp_path)
    assert status(result) == {
        "orders/export (1).csv": ("loaded", 2, 2, 0),
        "orders/export.csv": ("duplicate_file", 0, 0, 0),
    }
    assert raw(tmp_path, "orders", "order_id") == [("O1",), ("O2",)]
    assert run(tmp_path).files == []  # and again next run: nothing new, nothing twice


def test_file_still_being_written_with_a_partial_last_line(tmp_path):
    complete = ORDERS + "O1,A1,R1,,2024-01-02,completed,web,CNY\nO2,A1,R1,,2024-01-03,completed,web,CNY\n"
    path = land(tmp_path, "orders/export.csv", complete[:-25])  # the copy stopped mid-line: `O2,A1,R1,,2024`
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    first = run(tmp_path)
    assert status(first)["orders/export.csv"] == ("loaded", 2, 1, 1)
    [(file_path, row_number, reason, record)] = quarantined(tmp_path)
    assert (file_path, row_number, reason) == (
        "orders/export.csv",
        2,
        ("truncated: the file ends without a newline in its last row, which has 5 of 8 fields (cut short?)"),
    )
    assert json.loads(record)["order_date"] == "2024"
    good_order_loaded(tmp_path, first)
    path.write_text(complete)  # the copy finished: a new file, read in full, once
    second = run(tmp_path)
    assert status(second) == {"orders/export.csv": ("loaded", 2, 2, 0)}
    assert sorted(raw(tmp_path, "orders", "order_id")) == [("G1",), ("O1",), ("O1",), ("O2",)]


def test_a_row_with_a_field_too_many_or_too_few_is_quarantined_not_shifted(tmp_path):
    header = "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
    land(
        tmp_path,
        "order_lines/l.csv",
        header
        + "RG1,1,P00001,2,5,\n"  # 6 fields, the last one empty: loads
        + "RG1,2,P00001,2,1,000,\n"  # `1,000` unquoted: 7 fields (DuckDB alone reads unit_price 1)
        + "RG1,3,P00001,1\n"  # 4 fields
        + "RG1,4,P00001,1,2,0,x,y,z\n"  # 9 fields: wider than the reader's first try
        + "RG1,5,P00001,1,2,0\n",
    )
    # A file with quoted newlines is read on one thread (DuckDB's parallel reader cannot pad there).
    land(tmp_path, "order_lines/notes.csv", header + 'RG2,1,"P\n2",1,2,0,\nRG2,2,P2,1,2,0\n')
    result = run(tmp_path)
    assert status(result) == {"order_lines/l.csv": ("loaded", 5, 2, 3), "order_lines/notes.csv": ("loaded", 2, 1, 1)}
    assert raw(tmp_path, "order_lines", "order_id, line_number, unit_price, discount_amount, _row_number") == [
        ("RG1", 1, Decimal("5.0000"), None, 1),
        ("RG1", 5, Decimal("2.0000"), Decimal("0.00"), 5),
        ("RG2", 2, Decimal("2.0000"), Decimal("0.00"), 2),
    ]
    rows = [(path, n, reason, json.loads(record)) for path, n, reason, record in quarantined(tmp_path)]
    fields = header.strip().split(",")
    assert rows == [
        (
            "order_lines/l.csv",
            2,
            "row has 7 fields, header has 6",
            dict(zip(fields, ["RG1", "2", "P00001", "2", "1", "000"]), **{"(field 7)": ""}),
        ),
        (
            "order_lines/l.csv",
            3,
            "row has 4 fields, header has 6",
            dict(zip(fields, ["RG1", "3", "P00001", "1", None, None])),
        ),
        (
            "order_lines/l.csv",
            4,
            "row has 9 fields, header has 6",
            dict(
                zip(fields, ["RG1", "4", "P00001", "1", "2", "0"]),
                **{"(field 7)": "x", "(field 8)": "y", "(field 9)": "z"},
            ),
        ),
        (
            "order_lines/notes.csv",
            1,
            "row has 7 fields, header has 6",
            dict(zip(fields, ["RG2", "1", "P\n2", "1", "2", "0"]), **{"(field 7)": ""}),
        ),
    ]


def test_file_growing_while_it_is_read(tmp_path, monkeypatch):
    head = ORDERS + "O1,A1,R1,,2024-01-02,completed,web,CNY\n"
    tail = "O2,A1,R1,,2024-01-03,completed,web,CNY\n"
    path = land(tmp_path, "orders/export.csv", head + "O2,A1,R1,,2024-01-0")
    real_open_source = loader.open_source

    def writer_still_copying(con, source_path, *args):
        table = real_open_source(con, source_path, *args)
        if path.read_text() != head + tail:  # the copy goes on while the loader reads (its private copy)
            path.write_text(head + tail)
        return table

    monkeypatch.setattr(loader, "open_source", writer_still_copying)
    first = run(tmp_path)
    assert rejected_with(first, "orders/export.csv") == (
        "orders/export.csv: the file changed while it was being read (still being written?); "
        "it is read again on the next run"
    )
    monkeypatch.undo()
    second = run(tmp_path)
    assert status(second) == {"orders/export.csv": ("loaded", 2, 2, 0)}
    assert raw(tmp_path, "orders", "order_id") == [("O1",), ("O2",)]


@pytest.mark.slow
def test_duplicate_keys_within_and_across_files_keep_every_version_and_staging_the_latest(tmp_path):
    land(
        tmp_path,
        "orders/day1.csv",
        ORDERS
        + "O1,A1,R1,,2024-01-02,pending,web,CNY\n"
        + "O2,A1,R1,,2024-01-02,pending,web,CNY\n"
        + "O1,A1,R1,,2024-01-02,cancelled,web,CNY\n",
    )  # O1 again in the same file: the later row wins
    run(tmp_path)
    land(tmp_path, "orders/day2.csv", ORDERS + "O2,A1,R1,,2024-01-02,completed,web,CNY\n")  # a later file wins
    land(tmp_path, "teams/monday.csv", TEAMS + "T1,North,N\nT1,North-East,NE\nT2,South,S\n")
    run(tmp_path)
    assert raw(tmp_path, "orders", "order_id, status") == [
        ("O1", "pending"),
        ("O2", "pending"),
        ("O1", "cancelled"),
        ("O2", "completed"),
    ]
    warehouse = build_warehouse(tmp_path, select="stg_orders stg_teams")
    assert query(warehouse, "select order_id, status from staging.stg_orders order by 1") == [
        ("O1", "cancelled"),
        ("O2", "completed"),
    ]
    assert query(warehouse, "select team_id, team_name from staging.stg_teams order by 1") == [
        ("T1", "North-East"),
        ("T2", "South"),
    ]


# --- dates beyond the future horizon ---------------------------------------------------------------

OPPORTUNITIES = "opportunity_id,owner_rep_id,stage,created_at,close_date,amount,updated_at\n"


def landed_day(result: IngestResult, file_path: str) -> date:
    """The UTC day the file was ingested, from its batch id (`YYYYMMDDTHHMMSS...-<sha>-<entity>`)."""
    stamp = outcome(result, file_path).batch_id[:8]
    return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))


def test_a_typo_year_is_quarantined_beyond_the_future_horizon(tmp_path):
    land(
        tmp_path,
        "orders/o.csv",
        ORDERS
        + "O1,A1,R1,,2024-01-03,completed,web,CNY\n"
        + "O2,A1,R1,,2205-03-01,completed,web,CNY\n"  # 2025 typed 2205
        + "O3,A1,R1,,9999-12-31,completed,web,CNY\n",
    )  # a placeholder
    land(
        tmp_path,
        "opportunities/p.csv",
        OPPORTUNITIES
        + "P1,R1,prospecting,2024-01-02 10:00:00,9999-12-31,100,2024-01-05 10:00:00\n"  # open: an expectation
        + "P2,R1,closed_won,2024-01-02 10:00:00,2205-03-01,100,2024-01-05 10:00:00\n"  # closed: an event
        + "P3,R1,closed_lost,2024-01-02 10:00:00,2024-02-01,100,2024-02-01 10:00:00\n",
    )
    land(tmp_path, "reps/r.csv", "rep_id,team_id,hire_date,end_date\nR1,T1,2020-01-01,9999-12-31\n")
    result = run(tmp_path)
    assert status(result) == {
        "orders/o.csv": ("loaded", 3, 1, 2),
        "opportunities/p.csv": ("loaded", 3, 2, 1),
        "reps/r.csv": ("loaded", 1, 1, 0),
    }
    day = landed_day(result, "orders/o.csv")
    assert landed_day(result, "opportunities/p.csv") == day
    after = f"is more than 366 days after the file landed ({day.isoformat()})"
    assert sorted(q[:3] for q in quarantined(tmp_path)) == [
        ("opportunities/p.csv", 2, f"close_date: 2205-03-01 {after}"),
        ("orders/o.csv", 2, f"order_date: 2205-03-01 {after}"),
        ("orders/o.csv", 3, f"order_date: 9999-12-31 {after}"),
    ]
    assert raw(tmp_path, "opportunities", "opportunity_id, close_date") == [
        ("P1", date(9999, 12, 31)),
        ("P3", date(2024, 2, 1)),
    ]
    assert raw(tmp_path, "reps", "rep_id, end_date") == [("R1", date(9999, 12, 31))]


def test_the_future_horizon_is_configurable(tmp_path):
    from datetime import datetime, timedelta, timezone

    soon = datetime.now(timezone.utc).date() + timedelta(days=40)
    land(tmp_path, "orders/o.csv", ORDERS + f"O1,A1,R1,,{soon.isoformat()},pending,web,CNY\n")
    default = run(tmp_path)
    assert status(default) == {"orders/o.csv": ("loaded", 1, 1, 0)}  # 40 days ahead: within 366
    land(tmp_path / "strict", "orders/o.csv", ORDERS + f"O1,A1,R1,,{soon.isoformat()},pending,web,CNY\n")
    strict = ingest(
        tmp_path / "strict" / "landing",
        "canonical",
        tmp_path / "strict" / "raw",
        tmp_path / "strict" / "quality",
        future_date_horizon_days=30,
    )
    assert_ledger_adds_up(tmp_path / "strict", strict)
    assert status(strict) == {"orders/o.csv": ("loaded", 1, 0, 1)}
    day = landed_day(strict, "orders/o.csv")
    assert quarantined(tmp_path / "strict")[0][2] == (
        f"order_date: {soon.isoformat()} is more than 30 days after the file landed ({day.isoformat()})"
    )


@pytest.mark.slow
def test_a_quarantined_typo_year_is_not_the_as_of_date(tmp_path):
    land(
        tmp_path,
        "orders/o.csv",
        ORDERS + "O1,A1,R1,,2024-01-03,completed,web,CNY\n" + "O2,A1,R1,,2205-03-01,completed,web,CNY\n",
    )
    run(tmp_path)
    warehouse = build_warehouse(tmp_path, select="+int_calendar")
    assert query(warehouse, "select as_of_date from intermediate.int_calendar") == [(date(2024, 1, 3),)]


# --- control characters and invisible characters ----------------------------------------------------

ACCOUNTS = "account_id,account_name,created_at,lead_source\n"


def test_nul_and_other_control_characters_in_text_are_quarantined(tmp_path):
    land(
        tmp_path,
        "accounts/a.csv",
        ACCOUNTS
        + "A1,Acme\x00 Ltd,2024-01-02 09:00:00,web\n"  # a NUL made PostgreSQL roll the publish back
        + "A2,Beta,2024-01-02 09:00:00,we\x07b\n"  # BEL
        + 'A3,"Gamma\tTab\r\nNew line",2024-01-02 09:00:00,web\n',
    )  # tab, CR and LF are text
    result = run(tmp_path)
    assert status(result) == {"accounts/a.csv": ("loaded", 3, 1, 2)}
    assert raw(tmp_path, "accounts", "account_id, account_name") == [("A3", "Gamma\tTab\r\nNew line")]
    allowed = " (only tab, newline and carriage return are allowed in text)"
    rows = [(n, reason, json.loads(record)) for _, n, reason, record in quarantined(tmp_path)]
    assert [r[:2] for r in rows] == [
        (1, "account_name: contains control character U+0000" + allowed),
        (2, "lead_source: contains control character U+0007" + allowed),
    ]
    assert rows[0][2]["account_name"] == "Acme\x00 Ltd"  # the original text is kept


EXPR_TEAMS_PROFILE = """
    name: expr_teams
    entities:
      teams:
        files: ["teams/*.csv"]
        columns:
          team_id: team_id
          team_name: {expr: "team_name || case when team_id = 'T2' then chr(7) else '' end"}
          region: region
"""


def test_control_character_made_by_an_expression_in_a_file_without_one_is_quarantined(tmp_path):
    # The file's bytes hold no control character, so the columns read as they are go unsearched;
    # the text an expression makes is still searched.
    land(tmp_path, "teams/t.csv", TEAMS + "T1,North,East\nT2,South,East\n")
    result = run(tmp_path, profile(tmp_path, EXPR_TEAMS_PROFILE))
    assert status(result) == {"teams/t.csv": ("loaded", 2, 1, 1)}
    assert [r[1:3] for r in quarantined(tmp_path)] == [
        (2, "team_name: contains control character U+0007 (only tab, newline and carriage return are allowed in text)")
    ]


def test_export_columns_named_like_internal_ones_load_as_plain_columns(tmp_path):
    header = "order_id,account_id,order_date,status,__row_number,__reason,__o0,__raw_record\n"
    land(tmp_path, "orders/o.csv", header + "O1,A1,2024-01-02,completed,7,x,y,z\nO2,A1,bad,completed,8,x,y,z\n")
    land(
        tmp_path,
        "orders/o.jsonl",
        json.dumps(
            {
                "order_id": "O3",
                "account_id": "A1",
                "order_date": "2024-01-03",
                "status": "completed",
                "__ROW_NUMBER": "9",
            }
        )
        + "\n",
    )
    result = run(tmp_path)
    assert status(result) == {"orders/o.csv": ("loaded", 2, 1, 1), "orders/o.jsonl": ("loaded", 1, 1, 0)}
    assert raw(tmp_path, "orders", "order_id, _row_number") == [("O1", 1), ("O3", 1)]  # the file's row, not its column
    [(path, n, reason, record)] = quarantined(tmp_path)
    assert (path, n, reason) == ("orders/o.csv", 2, "order_date: cannot parse 'bad' as date")
    assert json.loads(record) == {
        "order_id": "O2",
        "account_id": "A1",
        "order_date": "bad",
        "status": "completed",
        "__row_number": "8",
        "__reason": "x",
        "__o0": "y",
        "__raw_record": "z",
    }


def test_invisible_characters_in_keys_are_stripped_so_nothing_is_orphaned(tmp_path):
    land(tmp_path, "accounts/a.csv", ACCOUNTS + "A1,Acme,2024-01-02 09:00:00,web\n")
    land(
        tmp_path,
        "orders/o.csv",
        ORDERS
        + "O1,A1\u200b,R1,,2024-01-02,completed,web,CNY\n"  # a zero-width space after the key
        + "\ufeffO2,\u2060A1,R1,,2024-01-03,completed,web,CNY\n"  # a mid-file BOM, a word joiner
        + "O3,\u200b,R1,,2024-01-04,completed,web,CNY\n",
    )  # nothing but an invisible character
    result = run(tmp_path)
    assert status(result) == {"accounts/a.csv": ("loaded", 1, 1, 0), "orders/o.csv": ("loaded", 3, 2, 1)}
    assert raw(tmp_path, "orders", "order_id, account_id") == [("O1", "A1"), ("O2", "A1")]
    with duckdb.connect() as con:
        orphans = con.execute(
            f"select o.order_id from read_parquet('{tmp_path}/raw/orders/*.parquet') as o anti join "
            f"read_parquet('{tmp_path}/raw/accounts/*.parquet') as a using (account_id)"
        ).fetchall()
    assert orphans == []
    assert [q[1:3] for q in quarantined(tmp_path)] == [(3, "account_id: required value is empty")]


# --- exports as they really come (issue 20): fewer fields, lookups, wide sheets, currencies ------


def test_missing_optional_columns_load_as_null_and_the_ledger_names_them(tmp_path):
    land(tmp_path, "orders/report.csv", "order_id,account_id,order_date,status\nO1,A1,2024-01-02,completed\n")
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert status(result)["orders/report.csv"] == ("loaded", 1, 1, 0)
    assert outcome(result, "orders/report.csv").notes["missing_columns"] == (
        "rep_id (rep_id); opportunity_id (opportunity_id); channel (channel); currency (currency)"
    )
    assert outcome(result, "orders/good.csv").notes["missing_columns"] is None
    assert raw(tmp_path, "orders", "order_id, rep_id, channel, currency")[1] == ("O1", None, None, None)
    good_order_loaded(tmp_path, result)


def test_malformed_currency_code_is_quarantined_and_a_foreign_code_loads(tmp_path):
    land(
        tmp_path,
        "orders/fx.csv",
        ORDERS + "O1,A1,R1,,2024-01-02,completed,web,US$\nO2,A1,R1,,2024-01-02,completed,web,USD\n",
    )
    land(tmp_path, "orders/good.csv", ORDERS + GOOD_ORDER)
    result = run(tmp_path)
    assert status(result)["orders/fx.csv"] == ("loaded", 2, 1, 1)
    assert [q[:3] for q in quarantined(tmp_path)] == [
        ("orders/fx.csv", 1, "currency: 'US$' is not an ISO 4217 code (three capital letters)")
    ]
    good_order_loaded(tmp_path, result)


LOOKUP_PROFILE = """
    name: corpus_lookup
    entities:
      orders:
        files: ["orders*.csv"]
        lookup: {file: "owners.csv", key: {Owner: Owner}, columns: {Team: owner_team}}
        columns: {order_id: Id, account_id: Account, order_date: Date, status: {const: completed},
                  channel: owner_team}
"""


def test_lookup_file_with_a_duplicate_key_rejects_the_dependent_file(tmp_path):
    land(tmp_path, "orders_1.csv", "Id,Account,Date,Owner\nO1,A1,2024-01-02,ann\n")
    land(tmp_path, "owners.csv", "Owner,Team\nann,north\nbob,south\nann,west\n")
    result = run(tmp_path, profile(tmp_path, LOOKUP_PROFILE))
    assert rejected_with(result, "orders_1.csv") == (
        "orders_1.csv: lookup owners.csv: key Owner is not unique ('ann' appears 2 times)"
    )


def test_unpivot_cell_that_does_not_parse_is_quarantined_with_its_column(tmp_path):
    land(tmp_path, "budget.csv", "Team,Category,2024-01,2024-02\nT1,travel,100,1O0\nT2,other,,5\n")
    prof = profile(
        tmp_path,
        r"""
        name: corpus_wide
        entities:
          budgets:
            files: ["budget.csv"]
            unpivot: {columns: '^\d{4}-\d{2}$', name: month_text, value: amount_text}
            columns: {month: month_text, team_id: Team, category: Category, budget_amount: amount_text}
    """,
    )
    result = run(tmp_path, prof)
    assert status(result) == {"budget.csv": ("loaded", 3, 2, 1)}  # three cells, the empty one is no row
    [(path, n, reason, record)] = quarantined(tmp_path)
    assert (path, n, reason) == ("budget.csv", 1, "budget_amount: cannot parse '1O0' as number")
    assert json.loads(record) == {"Team": "T1", "Category": "travel", "amount_text": "1O0", "month_text": "2024-02"}
