"""What the loader records is what it read (issue 17 item 10): the hash in the ledger is the hash of
the bytes loaded, even when the landed file is swapped under the loader with the same size and
mtime, and a file deleted between planning and reading is rejected with its reason instead of an
uncaught FileNotFoundError; a file whose name DuckDB would expand as a pattern loads its own rows.
The swap and the deletion happen right after the loader hashed the file for its plan (the window a
copying tool or a cleanup script hits)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb

import ingestion.loader as loader
from ingestion.ledger import read_ledger
from ingestion.loader import ingest

TEAMS = "team_id,team_name,region\n"
VERSION_A = TEAMS + "T1,North,N\n"
VERSION_B = TEAMS + "T9,South,S\n"  # same size as A


def land(tmp_path: Path, relative: str, text: str) -> Path:
    path = tmp_path / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(tmp_path: Path):
    return ingest(tmp_path / "landing", "canonical", tmp_path / "raw", tmp_path / "quality")


def raw_team_ids(tmp_path: Path) -> list[str]:
    with duckdb.connect() as con:
        return [
            r[0]
            for r in con.execute(
                "select team_id from read_parquet(?) order by 1", [str(tmp_path / "raw" / "teams" / "*.parquet")]
            ).fetchall()
        ]


def after_planning_hash(monkeypatch, target: Path, action) -> None:
    real = loader.file_sha256

    def hash_then_act(path):
        digest = real(path)
        if Path(path) == target and not getattr(hash_then_act, "done", False):
            hash_then_act.done = True
            action(target)
        return digest

    monkeypatch.setattr(loader, "file_sha256", hash_then_act)


def swap_keeping_size_and_mtime(path: Path) -> None:
    stat = path.stat()
    path.write_text(VERSION_B)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_a_file_swapped_with_the_same_size_and_mtime_is_recorded_with_the_hash_of_what_loaded(tmp_path, monkeypatch):
    path = land(tmp_path, "teams/teams.csv", VERSION_A)
    after_planning_hash(monkeypatch, path, swap_keeping_size_and_mtime)
    run(tmp_path)
    monkeypatch.undo()
    run(tmp_path)  # the next run reads the landed file as it now is
    ledger = read_ledger(tmp_path / "quality")
    loaded = ledger[ledger["status"] == "loaded"]
    # exactly one load, of version B, under B's hash; A's hash never stands for B's rows
    assert raw_team_ids(tmp_path) == ["T9"]
    assert loaded["file_sha256"].tolist() == [hashlib.sha256(VERSION_B.encode()).hexdigest()]
    first = ledger.iloc[0]
    assert (first.status, first.error) == (
        "rejected",
        "teams/teams.csv: the file changed while it was being "
        "read (still being written?); it is read again on the next run",
    )


def test_a_file_deleted_before_it_is_read_is_rejected_with_its_reason(tmp_path, monkeypatch):
    gone = land(tmp_path, "teams/a_gone.csv", VERSION_A)
    land(tmp_path, "teams/b_kept.csv", VERSION_B)
    after_planning_hash(monkeypatch, gone, lambda p: p.unlink())
    result = run(tmp_path)
    outcomes = {f.file_path: (f.status, f.error) for f in result.files}
    assert outcomes == {
        "teams/a_gone.csv": (
            "rejected",
            "teams/a_gone.csv: the file was deleted or moved away before it was read; "
            "it is read on the next run if it is landed again",
        ),
        "teams/b_kept.csv": ("loaded", None),
    }
    assert raw_team_ids(tmp_path) == ["T9"]


def test_a_name_duckdb_would_expand_as_a_pattern_loads_its_own_rows(tmp_path, monkeypatch):
    # Read in place, `t[1].csv` would be DuckDB's pattern for `t1.csv`: such a name is read through
    # a private copy, so each file loads its own rows once.
    land(tmp_path, "teams/t[1].csv", VERSION_A)
    land(tmp_path, "teams/t1.csv", VERSION_B)
    copied, real_copy = [], loader.private_copy
    monkeypatch.setattr(loader, "private_copy", lambda p, t: copied.append(p.name) or real_copy(p, t))
    result = run(tmp_path)
    assert {f.file_path: (f.status, f.rows_loaded) for f in result.files} == {
        "teams/t[1].csv": ("loaded", 1),
        "teams/t1.csv": ("loaded", 1),
    }
    assert raw_team_ids(tmp_path) == ["T1", "T9"]
    assert copied == ["t[1].csv"]
