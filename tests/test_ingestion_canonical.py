"""The ingestion engine on the canonical format: typed raw batches, quarantine, ledger, crash safety.

Every fixture file is written here by hand, and every expected value is stated by hand.
"""

import gzip
import hashlib
import json
import os
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest

import ingestion.loader as loader
from ingestion.canonical import ENTITIES
from ingestion.ledger import cleanup_orphans, read_ledger
from ingestion.loader import ingest, pending_files
from ingestion.raw_zone import QUARANTINE_COLUMNS, raw_columns


def land(landing: Path, relative: str, text: str, encoding: str = "utf-8") -> Path:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def run(tmp_path: Path, **kw):
    return ingest(tmp_path / "landing", "canonical", tmp_path / "raw", tmp_path / "quality", **kw)


def sql(query: str, params=None):
    with duckdb.connect() as con:
        return con.execute(query, params or []).fetchall()


def raw_rows(tmp_path: Path, entity: str, columns: str) -> list[tuple]:
    return sql(
        f"select {columns} from read_parquet('{tmp_path}/raw/{entity}/*.parquet') order by _batch_id, _row_number"
    )


def quarantine(tmp_path: Path) -> list[tuple]:
    return sql(
        f"select entity, file_path, row_number, reason, raw_record from "
        f"read_parquet('{tmp_path}/quality/quarantine/*.parquet') order by batch_id, row_number"
    )


HANG_GUARD = 120  # seconds: only a guard against a hang, never an expected duration

ORDERS_HEADER = "order_id,account_id,rep_id,opportunity_id,order_date,status,channel,currency\n"


def test_canonical_csv_loads_typed_values_with_lineage(tmp_path):
    landing = tmp_path / "landing"
    # BOM accepted; RFC 4180 quoting (comma and doubled quote inside quotes); empty field = NULL.
    land(
        landing,
        "orders/2024-03.csv",
        "\ufeff"
        + ORDERS_HEADER
        + 'O1,A1,R1,OP1,2024-03-05,completed,"web, ""direct""",CNY\n'
        + "O2,A2,,,2024-03-31,pending,,\n",
    )
    land(
        landing,
        "order_lines/2024-03.csv",
        "order_id,line_number,product_id,quantity,unit_price,discount_amount\nO1,1,P1,2,10.50,1.25\nO1,2,P2,0.5,100,\n",
    )
    land(
        landing,
        "activities/a.csv",
        "activity_id,rep_id,account_id,opportunity_id,activity_type,direction,occurred_at,responded_at,duration_minutes,outcome\n"
        "AC1,R1,A1,,email,inbound,2024-03-05 09:15:00,2024-03-05 11:45:30,,answered\n",
    )
    result = run(tmp_path)

    assert [(f.entity, f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
        ("activities", "loaded", 1, 1, 0),
        ("orders", "loaded", 2, 2, 0),
        ("order_lines", "loaded", 2, 2, 0),
    ]
    assert raw_rows(tmp_path, "orders", "order_id, account_id, rep_id, order_date, status, channel, currency") == [
        ("O1", "A1", "R1", date(2024, 3, 5), "completed", 'web, "direct"', "CNY"),
        ("O2", "A2", None, date(2024, 3, 31), "pending", None, None),
    ]
    assert raw_rows(tmp_path, "order_lines", "order_id, line_number, quantity, unit_price, discount_amount") == [
        ("O1", 1, Decimal("2.0000"), Decimal("10.5000"), Decimal("1.25")),
        ("O1", 2, Decimal("0.5000"), Decimal("100.0000"), None),
    ]
    assert raw_rows(tmp_path, "activities", "occurred_at, responded_at, duration_minutes") == [
        (datetime(2024, 3, 5, 9, 15), datetime(2024, 3, 5, 11, 45, 30), None)
    ]

    # Exactly the raw-zone contract's columns and types, in order.
    orders_file = next((tmp_path / "raw" / "orders").glob("*.parquet"))
    described = sql(f"describe select * from read_parquet('{orders_file}')")
    assert [(name, typ) for name, typ, *_ in described] == list(raw_columns(ENTITIES["orders"]).items())

    # Lineage: batch id = file name, one _loaded_at per batch, strictly increasing across batches.
    lineage = sql(
        f"select _batch_id, _profile, _source_file, _row_number, _loaded_at "
        f"from read_parquet('{tmp_path}/raw/*/*.parquet', filename = true) order by _batch_id, _row_number"
    )
    order_rows = [r for r in lineage if r[2] == "orders/2024-03.csv"]
    assert [r[3] for r in order_rows] == [1, 2]
    assert {r[1] for r in lineage} == {"canonical"}
    assert order_rows[0][0] == orders_file.stem and order_rows[0][4] == order_rows[1][4]
    batches = sorted({(r[0], r[4]) for r in lineage})
    assert len(batches) == 3
    assert all(a[1] < b[1] for a, b in zip(batches, batches[1:]))
    ledger = read_ledger(tmp_path / "quality")
    sha = hashlib.sha256((tmp_path / "landing/orders/2024-03.csv").read_bytes()).hexdigest()
    row = ledger[ledger.entity == "orders"].iloc[0]
    assert (row.file_path, row.file_sha256, row.file_bytes, row.status) == (
        "orders/2024-03.csv",
        sha,
        (tmp_path / "landing/orders/2024-03.csv").stat().st_size,
        "loaded",
    )
    assert row.batch_id.endswith(f"-{sha[:8]}-orders")


def test_one_bad_row_per_defect_kind_is_quarantined_with_the_column_named(tmp_path):
    landing = tmp_path / "landing"
    land(
        landing,
        "orders/o.csv",
        ORDERS_HEADER
        + "O1,A1,R1,,2024-03-05,completed,web,CNY\n"  # good
        + "O2,,R1,,2024-03-05,completed,web,CNY\n"  # 2: empty key
        + "O3,A1,R1,,2024-13-45,completed,web,CNY\n"  # 3: bad date
        + "O4,A1,R1,,2024-03-05,shipped,web,CNY\n"  # 4: bad enum
        + "O5,A1,R1,,2024-03-05,pending,web,US$\n"  # 5: not an ISO 4217 code
        + "O6,A2,,,2024-03-06,cancelled,,\n",
    )  # good
    land(
        landing,
        "order_lines/l.csv",
        "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
        "O1,1,P1,2,10.50,1\n"  # good
        "O1,2,P1,0,10.50,\n"  # 2: rule break
        "O1,3,P1,1,1O.5,\n"  # 3: bad number (letter O)
        "O1,3.5,P1,1,10,\n"  # 4: an integer that is not whole
        "O1,5,P1,1,10,20\n",
    )  # 5: discount above the line amount
    result = run(tmp_path)

    assert [(f.entity, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
        ("orders", 6, 2, 4),
        ("order_lines", 5, 1, 4),
    ]
    assert raw_rows(tmp_path, "orders", "order_id") == [("O1",), ("O6",)]
    assert raw_rows(tmp_path, "order_lines", "line_number") == [(1,)]
    got = [(e, f, n, reason) for e, f, n, reason, _ in quarantine(tmp_path)]
    assert got == [
        ("orders", "orders/o.csv", 2, "account_id: required value is empty"),
        ("orders", "orders/o.csv", 3, "order_date: cannot parse '2024-13-45' as date"),
        ("orders", "orders/o.csv", 4, "status: 'shipped' not in (completed, cancelled, pending)"),
        ("orders", "orders/o.csv", 5, "currency: 'US$' is not an ISO 4217 code (three capital letters)"),
        ("order_lines", "order_lines/l.csv", 2, "quantity: must be > 0"),
        ("order_lines", "order_lines/l.csv", 3, "unit_price: cannot parse '1O.5' as number"),
        ("order_lines", "order_lines/l.csv", 4, "line_number: cannot parse '3.5' as integer"),
        ("order_lines", "order_lines/l.csv", 5, "discount_amount: must be <= quantity * unit_price"),
    ]
    # The original text, as read, column by column.
    assert json.loads(quarantine(tmp_path)[1][4]) == {
        "order_id": "O3",
        "account_id": "A1",
        "rep_id": "R1",
        "opportunity_id": None,
        "order_date": "2024-13-45",
        "status": "completed",
        "channel": "web",
        "currency": "CNY",
    }
    q_schema = sql(f"describe select * from read_parquet('{tmp_path}/quality/quarantine/*.parquet')")
    assert [(n, t) for n, t, *_ in q_schema] == list(QUARANTINE_COLUMNS.items())
    ledger = read_ledger(tmp_path / "quality")
    assert (ledger.rows_read == ledger.rows_loaded + ledger.rows_quarantined).all()
    assert list(ledger.rows_read) == [6, 5]

    # Another currency is not an error (staging converts it): with USD reporting, the same rows load.
    other = tmp_path / "usd"
    land(other / "landing", "orders/o.csv", (landing / "orders/o.csv").read_text())
    usd = run(other, reporting_currency="USD", entities=["orders"])
    assert (usd.files[0].rows_loaded, usd.files[0].rows_quarantined) == (2, 4)


def test_every_event_key_is_required_so_raw_keys_are_never_null():
    # the staging rule for events (dbt_project/macros/latest_version.sql) joins keys with `=`:
    # a NULL key would pass untouched instead of being ranked, so each key column must be required
    events = {name: e for name, e in ENTITIES.items() if e.kind == "E"}
    assert len(events) >= 10
    assert {name: [k for k in e.key if k not in e.required] for name, e in events.items()} == {n: [] for n in events}


def test_several_reasons_of_one_row_are_all_given(tmp_path):
    land(tmp_path / "landing", "orders/o.csv", ORDERS_HEADER + ",A1,,,yesterday,done,,eur\n")
    run(tmp_path)
    assert [r[3] for r in quarantine(tmp_path)] == [
        "order_id: required value is empty; order_date: cannot parse 'yesterday' as date; "
        "status: 'done' not in (completed, cancelled, pending); "
        "currency: 'eur' is not an ISO 4217 code (three capital letters)"
    ]


def test_missing_required_column_rejects_the_file_and_other_files_still_load(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/a_bad.csv", "order_id,account_id,status\nO1,A1,completed\n")
    land(landing, "orders/b_good.csv", ORDERS_HEADER + "O2,A1,,,2024-01-02,completed,,\n")
    result = run(tmp_path)
    assert [(f.file_path, f.status, f.rows_read) for f in result.files] == [
        ("orders/a_bad.csv", "rejected", 0),
        ("orders/b_good.csv", "loaded", 1),
    ]
    assert result.files[0].error == "orders/a_bad.csv: missing required column 'order_date'"
    summary = result.by_entity()["orders"]
    assert (summary.files_loaded, summary.files_rejected, summary.rows_loaded) == (1, 1, 1)
    assert summary.rejected == [("orders/a_bad.csv", "orders/a_bad.csv: missing required column 'order_date'")]
    assert raw_rows(tmp_path, "orders", "order_id, _source_file") == [("O2", "orders/b_good.csv")]
    assert not (tmp_path / "quality" / "quarantine").exists()
    ledger = read_ledger(tmp_path / "quality")
    rejected = ledger[ledger.status == "rejected"].iloc[0]
    assert (rejected.rows_read, rejected.rows_loaded, rejected.rows_quarantined) == (0, 0, 0)
    assert not (tmp_path / "raw" / "orders" / f"{rejected.batch_id}.parquet").exists()


def test_unreadable_files_are_rejected_with_the_cause(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/gbk.csv", ORDERS_HEADER + "O3,客户,,,2024-01-02,completed,,\n", encoding="gb18030")
    land(landing, "orders/fake.xlsx", "this is not a workbook")
    outcomes = {f.file_path: f for f in run(tmp_path).files}
    assert {p: f.status for p, f in outcomes.items()} == {"orders/fake.xlsx": "rejected", "orders/gbk.csv": "rejected"}
    assert outcomes["orders/gbk.csv"].error.startswith("orders/gbk.csv: ")
    assert "not utf-8 encoded" in outcomes["orders/gbk.csv"].error
    assert outcomes["orders/fake.xlsx"].error.startswith(
        "orders/fake.xlsx: cannot read the first sheet of the workbook"
    )
    assert not (tmp_path / "raw" / "orders").exists() or not any((tmp_path / "raw" / "orders").iterdir())


def test_a_ragged_row_is_quarantined_with_its_field_count_and_the_others_load(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/ragged.csv", ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\nO2,A1,,\n")
    (ragged,) = run(tmp_path).files
    assert (ragged.status, ragged.rows_read, ragged.rows_loaded, ragged.rows_quarantined) == ("loaded", 2, 1, 1)
    assert sql(f"select order_id from read_parquet('{tmp_path}/raw/orders/*.parquet')") == [("O1",)]
    assert sql(f"select row_number, reason from read_parquet('{tmp_path}/quality/quarantine/*.parquet')") == [
        (2, f"row has 4 fields, header has {ORDERS_HEADER.count(',') + 1}")
    ]


def test_empty_file_is_rejected_and_header_only_file_loads_zero_rows(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/empty.csv", "")
    land(landing, "orders/header_only.csv", ORDERS_HEADER)
    outcomes = {f.file_path: f for f in run(tmp_path).files}
    # Empty: no header, so nothing says it is an orders export at all.
    assert outcomes["orders/empty.csv"].status == "rejected"
    assert outcomes["orders/empty.csv"].error == "orders/empty.csv: file is empty (no header row)"
    # Header only: a well-formed export of zero rows (e.g. no new orders today).
    header_only = outcomes["orders/header_only.csv"]
    assert (header_only.status, header_only.rows_read, header_only.rows_loaded) == ("loaded", 0, 0)
    assert sql(f"select count(*) from read_parquet('{tmp_path}/raw/orders/*.parquet')") == [(0,)]


def test_duplicate_file_is_skipped_by_hash_and_a_rerun_loads_nothing_twice(tmp_path):
    landing = tmp_path / "landing"
    text = ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\nO2,A1,,,2024-01-03,pending,,\n"
    land(landing, "orders/day1.csv", text)
    land(landing, "orders/day1_copy.csv", text)
    first = run(tmp_path)
    assert [(f.file_path, f.status, f.rows_read, f.rows_loaded) for f in first.files] == [
        ("orders/day1.csv", "loaded", 2, 2),
        ("orders/day1_copy.csv", "duplicate_file", 0, 0),
    ]
    assert first.by_entity()["orders"].files_duplicate == 1
    assert pending_files(landing, "canonical", tmp_path / "quality") == []

    second = run(tmp_path)
    assert second.files == []
    assert raw_rows(tmp_path, "orders", "order_id") == [("O1",), ("O2",)]
    assert len(read_ledger(tmp_path / "quality")) == 2

    new = land(landing, "orders/day2.csv", ORDERS_HEADER + "O3,A1,,,2024-01-04,completed,,\n")
    assert pending_files(landing, "canonical", tmp_path / "quality") == [new.resolve()]
    third = run(tmp_path)
    assert [(f.file_path, f.status) for f in third.files] == [("orders/day2.csv", "loaded")]
    assert raw_rows(tmp_path, "orders", "order_id") == [("O1",), ("O2",), ("O3",)]


def test_a_crash_before_the_ledger_row_leaves_nothing_behind_and_the_rerun_loads_once(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    land(landing, "orders/o.csv", ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\n,A1,,,2024-01-02,completed,,\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed after the data batch was written")

    monkeypatch.setattr(loader, "write_ledger_row", crash)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path)
    orphans = sorted((tmp_path / "raw" / "orders").glob("*.parquet")) + sorted(
        (tmp_path / "quality" / "quarantine").glob("*.parquet")
    )
    assert len(orphans) == 2  # data batch and quarantine written, ledger row not
    assert read_ledger(tmp_path / "quality").empty
    monkeypatch.undo()

    result = run(tmp_path)
    assert sorted(result.orphans_removed) == sorted(orphans)
    assert all(not p.exists() for p in orphans)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in result.files] == [("loaded", 1, 1)]
    assert raw_rows(tmp_path, "orders", "order_id") == [("O1",)]
    assert len(quarantine(tmp_path)) == 1
    assert cleanup_orphans(tmp_path / "raw", tmp_path / "quality") == []


def test_landing_files_are_never_modified(tmp_path):
    landing = tmp_path / "landing"
    paths = [
        land(landing, "orders/o.csv", ORDERS_HEADER + "O1,,,,2024-01-02,completed,,\n"),
        land(landing, "orders/bad.csv", "nonsense\n"),
    ]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    run(tmp_path)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths} == before
    assert sorted(p.name for p in landing.rglob("*") if p.is_file()) == ["bad.csv", "o.csv"]


def test_xlsx_workbook(tmp_path):
    path = tmp_path / "landing" / "budgets" / "budget_2025.xlsx"
    path.parent.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["month", "team_id", "category", "budget_amount", "currency"])
    sheet.append(["2025-01", "T1", "travel", 1234.5, "CNY"])
    sheet.append([date(2025, 2, 1), "T1", " marketing ", 100, None])  # Excel made the month a date
    sheet.append([None, None, None, None, None])  # blank spreadsheet row: not a data row
    sheet.append(["2025-03", "T2", "food", 5, "CNY"])
    workbook.save(path)
    (outcome,) = run(tmp_path).files
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 3, 2, 1)
    assert raw_rows(tmp_path, "budgets", "month, team_id, category, budget_amount, currency, _row_number") == [
        (date(2025, 1, 1), "T1", "travel", Decimal("1234.50"), "CNY", 1),
        (date(2025, 2, 1), "T1", "marketing", Decimal("100.00"), None, 2),
    ]
    (q,) = quarantine(tmp_path)
    assert q[2:4] == (3, "category: 'food' not in (personnel, marketing, incentives, travel, training, tools, other)")
    assert json.loads(q[4]) == {
        "month": "2025-03",
        "team_id": "T2",
        "category": "food",
        "budget_amount": "5",
        "currency": "CNY",
    }


def test_json_array_and_jsonl(tmp_path):
    landing = tmp_path / "landing"
    land(
        landing,
        "teams/teams.json",
        json.dumps(
            [
                {"team_id": "T1", "team_name": "North", "region": "N"},
                {"team_id": 2, "region": None, "extra": {"a": 1}},  # a number key is read as its text
                {"team_name": "no id"},
            ]
        ),
    )
    land(
        landing,
        "reps/reps.jsonl",
        "\n".join(
            json.dumps(r)
            for r in [
                {"rep_id": "R1", "team_id": "T1", "hire_date": "2024-01-02", "status": "active"},
                {"rep_id": "R2", "team_id": "T1", "status": "gone"},
            ]
        )
        + "\n",
    )
    land(landing, "contacts/none.json", "[]")
    outcomes = {f.entity: f for f in run(tmp_path).files}
    assert {e: (f.status, f.rows_read, f.rows_loaded) for e, f in outcomes.items()} == {
        "teams": ("loaded", 3, 2),
        "reps": ("loaded", 2, 1),
        "contacts": ("loaded", 0, 0),
    }
    assert raw_rows(tmp_path, "teams", "team_id, team_name, region, _row_number") == [
        ("T1", "North", "N", 1),
        ("2", None, None, 2),
    ]
    assert raw_rows(tmp_path, "reps", "rep_id, hire_date, status") == [("R1", date(2024, 1, 2), "active")]
    reasons = {(e, n): r for e, _, n, r, _ in quarantine(tmp_path)}
    assert reasons == {
        ("teams", 3): "team_id: required value is empty",
        ("reps", 2): "status: 'gone' not in (active, inactive)",
    }


def test_tsv_csv_gz_and_parquet(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "products/p.tsv", "product_id\tproduct_name\tlist_price\nP1\tWidget, large\t12.5\n")
    gz = landing / "products" / "p2.csv.gz"
    gz.write_bytes(gzip.compress(b"product_id,product_name,list_price\nP2,Gadget,7\n"))
    parquet = landing / "survey_responses" / "s.parquet"
    parquet.parent.mkdir(parents=True)
    sql(
        f"copy (select * from (values ('S1', 'nps', timestamp '2024-05-01 08:00:00', 9), "
        f"('S2', 'csat', timestamp '2024-05-02 08:00:00', 7)) t(response_id, survey_type, submitted_at, score)) "
        f"to '{parquet}' (format parquet)"
    )
    outcomes = {f.file_path: (f.status, f.rows_loaded, f.rows_quarantined) for f in run(tmp_path).files}
    assert outcomes == {
        "products/p.tsv": ("loaded", 1, 0),
        "products/p2.csv.gz": ("loaded", 1, 0),
        "survey_responses/s.parquet": ("loaded", 1, 1),
    }
    assert raw_rows(tmp_path, "products", "product_id, product_name, list_price") == [
        ("P1", "Widget, large", Decimal("12.5000")),
        ("P2", "Gadget", Decimal("7.0000")),
    ]
    assert raw_rows(tmp_path, "survey_responses", "response_id, submitted_at, score") == [
        ("S1", datetime(2024, 5, 1, 8), 9)
    ]
    assert [(n, r) for _, _, n, r, _ in quarantine(tmp_path)] == [
        (2, "score: out of range for survey_type (nps 0-10, csat 1-5)")
    ]


def test_entities_limits_the_run(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/o.csv", ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\n")
    land(landing, "teams/t.csv", "team_id\nT1\n")
    assert [f.entity for f in run(tmp_path, entities=["teams"]).files] == ["teams"]
    assert [f.entity for f in run(tmp_path).files] == ["orders"]
    with pytest.raises(ValueError, match="unknown entities: order"):
        run(tmp_path, entities=["order"])


def test_a_file_that_cannot_be_opened_is_rejected_and_the_others_load(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    land(landing, "teams/a.csv", "team_id\nT1\n")
    land(landing, "teams/b.csv", "team_id\nT2\n")
    real_sha256 = loader.file_sha256

    def no_permission(path):  # what a file owned by another user gives (tests run as root here)
        if path.name == "a.csv":
            raise PermissionError(13, "Permission denied")
        return real_sha256(path)

    monkeypatch.setattr(loader, "file_sha256", no_permission)
    outcomes = [(f.file_path, f.status, f.error) for f in run(tmp_path).files]
    assert outcomes == [
        ("teams/a.csv", "rejected", "teams/a.csv: cannot read file: Permission denied"),
        ("teams/b.csv", "loaded", None),
    ]
    assert raw_rows(tmp_path, "teams", "team_id") == [("T2",)]


def test_the_engine_keeps_to_the_given_limits(tmp_path, monkeypatch):
    # Without a memory_limit DuckDB takes up to 80% of the machine's memory: at scale 500 (a 30
    # million-line order_lines file) ingestion peaked at 5.4 GB before the limits reached it.
    land(tmp_path / "landing", "orders/o.csv", ORDERS_HEADER + "O1,A1,R1,,2024-03-05,completed,web,CNY\n")
    settings, real_connect = [], duckdb.connect

    def spy(database=":memory:", *args, **kwargs):
        con = real_connect(database, *args, **kwargs)
        with con.cursor() as cur:
            settings.extend(
                cur.execute("select current_setting('memory_limit'), current_setting('threads')").fetchall()
            )
        return con

    monkeypatch.setattr(duckdb, "connect", spy)
    result = run(tmp_path, duckdb_config={"memory_limit": "256MB", "threads": 1})
    assert result.rows_loaded == 1
    assert ("244.1 MiB", 1) in settings  # DuckDB reports 256 MB in MiB


def test_files_load_two_at_a_time_and_commit_in_file_order(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    for day in range(1, 7):
        land(
            landing,
            f"orders/day{day}.csv",
            ORDERS_HEADER
            + f"O{day},A1,,,2024-01-0{day},completed,,\n"
            + (",A1,,,2024-01-01,completed,,\n" if day % 2 else ""),
        )
    land(landing, "orders/day7.csv", "order_id\nO7\n")  # rejected: required columns missing
    real_load, lock, running, overlap, finished = loader._load_file, threading.Lock(), [], [], []
    # Events, not sleeps: day1 and day2 meet (two files at once), and day1 finishes only after
    # day6, loaded meanwhile by the other worker. The timeouts only guard against a hang.
    both_started, day6_done = threading.Barrier(2, timeout=HANG_GUARD), threading.Event()

    def ordered_load(con, spec, path, *args):
        with lock:
            running.append(path.name)
            overlap.append(len(running))
        try:
            if path.name in ("day1.csv", "day2.csv"):
                both_started.wait()
            if path.name == "day1.csv":
                assert day6_done.wait(HANG_GUARD), "day6 never finished while day1 waited"
            return real_load(con, spec, path, *args)
        finally:
            with lock:
                running.remove(path.name)
                finished.append(path.name)
            if path.name == "day6.csv":
                day6_done.set()

    monkeypatch.setattr(loader, "_load_file", ordered_load)
    committed = []
    result = run(tmp_path, progress=lambda f: committed.append(f.file_path))
    files = [f"orders/day{d}.csv" for d in range(1, 8)]
    assert max(overlap) == 2  # two files at a time, never more
    assert finished.index("day1.csv") > finished.index("day6.csv")  # the first file finished last...
    assert committed == [f.file_path for f in result.files] == files
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in result.files] == [
        ("loaded", 1, 1),
        ("loaded", 1, 0),
    ] * 3 + [("rejected", 0, 0)]
    ledger = read_ledger(tmp_path / "quality")
    assert list(ledger.sort_values("batch_id").file_path) == files  # batch ids follow file order
    assert ledger.sort_values("batch_id").finished_at.is_monotonic_increasing  # committed in that order
    assert raw_rows(tmp_path, "orders", "order_id") == [(f"O{d}",) for d in range(1, 7)]


def test_a_copy_of_a_rejected_file_in_the_same_run_is_tried_again_not_called_a_duplicate(tmp_path):
    landing = tmp_path / "landing"
    land(landing, "orders/a.csv", "order_id\nO1\n")
    land(landing, "orders/b.csv", "order_id\nO1\n")
    result = run(tmp_path)
    assert [(f.file_path, f.status) for f in result.files] == [
        ("orders/a.csv", "rejected"),
        ("orders/b.csv", "rejected"),
    ]
    assert all("account_id" in f.error for f in result.files)


def test_the_number_of_files_at_a_time_comes_from_the_settings_to_the_dagster_asset(tmp_path, monkeypatch):
    import dagster as dg

    import orchestration.assets.ingestion as ingestion_asset
    from orchestration.resources import SalesdwResource
    from orchestration.settings import get_settings

    monkeypatch.setenv("SALESDW_INGEST_PARALLEL_FILES", "x")
    with pytest.raises(ValueError, match="SALESDW_INGEST_PARALLEL_FILES='x'"):
        get_settings(tmp_path)
    monkeypatch.setenv("SALESDW_INGEST_PARALLEL_FILES", "0")
    with pytest.raises(ValueError, match="at least 1"):
        get_settings(tmp_path)
    monkeypatch.setenv("SALESDW_INGEST_PARALLEL_FILES", "1")
    land(tmp_path / "landing" / "canonical", "orders/a.csv", ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\n")
    land(tmp_path / "landing" / "canonical", "orders/b.csv", ORDERS_HEADER + "O2,A1,,,2024-01-03,completed,,\n")
    asked = []

    def spy(*args, **kwargs):
        asked.append(kwargs["parallel_files"])
        return ingest(*args, **kwargs)

    monkeypatch.setattr(ingestion_asset, "ingest", spy)
    result = dg.materialize(
        [ingestion_asset.ingest_exports],
        selection=[ingestion_asset.raw_key("orders")],
        resources={"salesdw": SalesdwResource(data_dir=str(tmp_path))},
    )
    assert result.success and asked == [1]
    assert raw_rows(tmp_path, "orders", "order_id") == [("O1",), ("O2",)]
    monkeypatch.delenv("SALESDW_INGEST_PARALLEL_FILES")
    assert get_settings(tmp_path).ingest_parallel_files == 2  # the default


def test_the_landing_sensor_reads_an_unchanged_file_once(tmp_path, monkeypatch):
    """why: the sensor asks every tick; a large landed file must not be read in full each time,
    yet a file rewritten in place (new size or mtime) must be hashed again and seen as new."""
    import ingestion.hashing as hashing

    landing = tmp_path / "landing"
    path = land(landing, "orders/day1.csv", ORDERS_HEADER + "O1,A1,,,2024-01-02,completed,,\n")
    reads = []
    real = hashing.file_sha256
    monkeypatch.setattr(hashing, "file_sha256", lambda p: reads.append(Path(p)) or real(p))
    hashing._sha256_at.cache_clear()

    for _ in range(3):
        assert pending_files(landing, "canonical", tmp_path / "quality") == [path.resolve()]
    assert reads == [path.resolve()]

    run(tmp_path)
    assert pending_files(landing, "canonical", tmp_path / "quality") == []
    assert len(reads) == 1  # the loader hashes what it reads; the sensor's memo is untouched

    path.write_text(ORDERS_HEADER + "O2,A1,,,2024-01-03,completed,,\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert pending_files(landing, "canonical", tmp_path / "quality") == [path.resolve()]
    assert len(reads) == 2
