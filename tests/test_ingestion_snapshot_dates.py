"""Snapshot dates (exports.md "Snapshots are effective-dated"): a profile declares a file's date
in its name or in a column, else the file is dated the UTC day it landed; files dated by name load
in date order; a declared date that cannot be read rejects the file, naming it and why."""

import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from ingestion.loader import LOADED, REJECTED, ingest
from ingestion.profile import load_profile

REPS_BY_NAME = """
name: dated_reps
entities:
  reps:
    files: ["reps_*.csv"]
    snapshot_date: {name: '(\\d{4}\\d{2}\\d{2}|\\d{4}-\\d{2}-\\d{2})', formats: ["%Y-%m-%d", "%Y%m%d"]}
    columns_by_name: true
"""

REPS_BY_COLUMN = """
name: dated_reps
entities:
  reps:
    files: ["reps*.csv"]
    snapshot_date: {column: As Of}
    timestamp_formats: ["%d/%m/%Y %H:%M"]
    date_formats: ["%d/%m/%Y"]
    columns_by_name: true
"""


def _profile(tmp_path: Path, text: str):
    path = tmp_path / "dated_reps.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_profile(path)


def _land(landing: Path, name: str, lines: list[str]) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ingest(tmp_path: Path, profile):
    return ingest(tmp_path / "landing", profile, tmp_path / "raw", tmp_path / "quality")


def _raw(tmp_path: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            f"select _source_file, _snapshot_date, rep_id, team_id from read_parquet("
            f"'{tmp_path}/raw/reps/*.parquet') order by _batch_id, _row_number"
        ).fetchall()


def test_snapshot_date_from_the_file_name_orders_the_files_and_is_stored(tmp_path):
    landing = tmp_path / "landing"
    # name order (reps_2025-... < reps_20250131) differs from date order
    _land(landing, "reps_2025-03-31.csv", ["rep_id,team_id", "R1,T2"])
    _land(landing, "reps_20250131.csv", ["rep_id,team_id", "R1,T1"])
    result = _ingest(tmp_path, _profile(tmp_path, REPS_BY_NAME))
    assert [(f.file_path, f.status, f.snapshot_date) for f in result.files] == [
        ("reps_20250131.csv", LOADED, date(2025, 1, 31)),
        ("reps_2025-03-31.csv", LOADED, date(2025, 3, 31)),
    ]
    assert _raw(tmp_path) == [
        ("reps_20250131.csv", date(2025, 1, 31), "R1", "T1"),
        ("reps_2025-03-31.csv", date(2025, 3, 31), "R1", "T2"),
    ]
    with duckdb.connect() as con:
        ledger = con.execute(
            f"select file_path, snapshot_date from read_parquet("
            f"'{tmp_path}/quality/ledger/*.parquet') order by batch_id"
        ).fetchall()
    assert ledger == [("reps_20250131.csv", date(2025, 1, 31)), ("reps_2025-03-31.csv", date(2025, 3, 31))]


def test_a_file_name_without_a_readable_date_is_rejected_and_the_others_load(tmp_path):
    landing = tmp_path / "landing"
    _land(landing, "reps_2025-02-30.csv", ["rep_id,team_id", "R1,T1"])  # no 30 February
    _land(landing, "reps_latest.csv", ["rep_id,team_id", "R1,T1"])
    _land(landing, "reps_2025-01-31.csv", ["rep_id,team_id", "R2,T1"])
    result = _ingest(tmp_path, _profile(tmp_path, REPS_BY_NAME))
    outcomes = {f.file_path: (f.status, f.error) for f in result.files}
    assert outcomes["reps_2025-01-31.csv"] == (LOADED, None)
    assert outcomes["reps_2025-02-30.csv"][0] == REJECTED
    assert outcomes["reps_2025-02-30.csv"][1].startswith(
        "reps_2025-02-30.csv: cannot parse the snapshot date '2025-02-30' of the file name as a date"
    )
    assert outcomes["reps_latest.csv"] == (
        REJECTED,
        "reps_latest.csv: the file name holds no snapshot date "
        "matching '(\\\\d{4}\\\\d{2}\\\\d{2}|\\\\d{4}-\\\\d{2}-\\\\d{2})'",
    )
    assert [r[2] for r in _raw(tmp_path)] == ["R2"]


def test_snapshot_date_from_a_column_is_its_latest_date(tmp_path):
    landing = tmp_path / "landing"
    # an export that ran past midnight: the latest date is the file's
    _land(landing, "reps_a.csv", ["rep_id,team_id,As Of", "R1,T1,31/03/2025 23:59", "R2,T1,01/04/2025 00:01"])
    _land(landing, "reps_b.csv", ["rep_id,team_id,As Of", "R1,T3,31/01/2025"])
    result = _ingest(tmp_path, _profile(tmp_path, REPS_BY_COLUMN))
    assert [(f.file_path, f.status, f.snapshot_date) for f in result.files] == [
        ("reps_a.csv", LOADED, date(2025, 4, 1)),
        ("reps_b.csv", LOADED, date(2025, 1, 31)),
    ]
    assert {(r[0], r[1]) for r in _raw(tmp_path)} == {
        ("reps_a.csv", date(2025, 4, 1)),
        ("reps_b.csv", date(2025, 1, 31)),
    }


def test_an_unparsable_or_missing_snapshot_date_column_rejects_the_file(tmp_path):
    landing = tmp_path / "landing"
    _land(landing, "reps_bad.csv", ["rep_id,team_id,As Of", "R1,T1,31/03/2025", "R2,T1,yesterday"])
    _land(landing, "reps_empty.csv", ["rep_id,team_id,As Of", "R1,T1,"])
    _land(landing, "reps_none.csv", ["rep_id,team_id", "R1,T1"])
    result = _ingest(tmp_path, _profile(tmp_path, REPS_BY_COLUMN))
    errors = {f.file_path: f.error for f in result.files if f.status == REJECTED}
    assert errors == {
        "reps_bad.csv": "reps_bad.csv: cannot parse the snapshot date 'yesterday' in column 'As Of' as a date "
        "(%d/%m/%Y, %d/%m/%Y %H:%M; 1 such rows)",
        "reps_empty.csv": "reps_empty.csv: column 'As Of' holds no snapshot date: the file's snapshot date is unknown",
        "reps_none.csv": "reps_none.csv: missing column 'As Of' (the file's snapshot date)",
    }
    assert not (tmp_path / "raw" / "reps").exists() or _raw(tmp_path) == []


def test_without_a_declaration_a_file_is_dated_the_utc_day_it_landed(tmp_path):
    _land(tmp_path / "landing" / "reps", "reps.csv", ["rep_id,team_id", "R1,T1"])
    before = datetime.now(timezone.utc).date()
    [outcome] = ingest(
        tmp_path / "landing", "canonical", tmp_path / "raw", tmp_path / "quality", entities=["reps"]
    ).files
    after = datetime.now(timezone.utc).date()
    [(_, stored, _, _)] = _raw(tmp_path)
    assert stored == outcome.snapshot_date and before <= stored <= after
