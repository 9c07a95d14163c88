"""The check results store: an append-only Parquet log, one file per suite run.

    <quality_dir>/check_results/<run_id>-<layer>-<n>.parquet   (n = 1, 2, ... per rerun)

Columns are exactly those of quality.check_results (check_result.CHECK_RESULT_COLUMNS). Files are
never rewritten, so a crash mid-run loses at most the suite being written, and several processes
may append at once.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.file_modes import private_dir
from ingestion.raw_zone import parquet_select
from orchestration.quality.check_result import CHECK_RESULT_COLUMNS, CheckResult

SUBDIR = "check_results"

_ARROW_SCHEMA = pa.schema(
    [
        (name, {"BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us")}.get(type_, pa.string()))
        for name, type_ in CHECK_RESULT_COLUMNS.items()
    ]
)


def results_dir(quality_dir: Path) -> Path:
    return Path(quality_dir) / SUBDIR


def _file_stem(run_id: str, layer: str) -> str:
    # run ids are Dagster UUIDs or CLI-made names; keep any of them a single safe file name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{run_id}-{layer}")


def append(quality_dir: Path, results: Iterable[CheckResult]) -> Path | None:
    """Write results (one run and layer) as the next file of the log; returns its path."""
    results = list(results)
    if not results:
        return None
    folder = private_dir(results_dir(quality_dir))
    stem = _file_stem(results[0].run_id, results[0].layer)
    table = pa.Table.from_pylist([r.as_row() for r in results], schema=_ARROW_SCHEMA)
    # Written under a temp name first: a process killed mid-write must not leave a torn Parquet
    # file that every later read of the store (and so every later publish) would choke on.
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            pq.write_table(table, out)
        n = 1
        while True:
            path = folder / f"{stem}-{n}.parquet"
            try:
                os.link(tmp_name, path)  # atomic, and never overwrites a log file
                return path
            except FileExistsError:
                n += 1
    finally:
        os.unlink(tmp_name)


def _select_sql(quality_dir: Path) -> str:
    return parquet_select(results_dir(quality_dir), CHECK_RESULT_COLUMNS)


def read(quality_dir: Path) -> pd.DataFrame:
    """Every stored check result, oldest first."""
    with duckdb.connect() as con:
        return con.execute(f"select * from ({_select_sql(quality_dir)}) order by checked_at").df()


def latest(quality_dir: Path, run_id: str | None = None) -> list[CheckResult]:
    """The latest result of every (layer, asset, check) — of one run when run_id is given."""
    frame = read(quality_dir)
    if run_id is not None:
        frame = frame[frame["run_id"] == run_id]
    frame = frame.sort_values("checked_at", kind="stable")
    frame = frame.drop_duplicates(["layer", "asset", "check_name"], keep="last")
    return [_to_result(row) for row in frame.to_dict("records")]


def latest_of_runs(quality_dir: Path, run_ids: Iterable[str]) -> list[CheckResult]:
    """The latest result of every (layer, asset, check) over the given runs together."""
    frame = read(quality_dir)
    frame = frame[frame["run_id"].isin(list(run_ids))].sort_values("checked_at", kind="stable")
    frame = frame.drop_duplicates(["layer", "asset", "check_name"], keep="last")
    return [_to_result(row) for row in frame.to_dict("records")]


def blocking_failures(quality_dir: Path, run_id: str) -> list[CheckResult]:
    """Failed error-severity checks of a run (by each check's latest result in that run)."""
    return [r for r in latest(quality_dir, run_id) if r.blocking]


def last_passed_observed(quality_dir: Path, checks: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """observed_value of the newest passed result of each (layer, asset, check_name) that has one.

    One query over the log (DuckDB filters the Parquet files), however many checks are asked for."""
    if not checks:
        return {}
    with duckdb.connect() as con:
        con.execute("create temp table wanted (layer varchar, asset varchar, check_name varchar)")
        con.executemany("insert into wanted values (?, ?, ?)", [list(c) for c in checks])
        rows = con.execute(
            f"select r.layer, r.asset, r.check_name, r.observed_value from ({_select_sql(quality_dir)}) as r "
            "semi join wanted as w using (layer, asset, check_name) where r.passed "
            "qualify row_number() over (partition by r.layer, r.asset, r.check_name "
            "order by r.checked_at desc) = 1"
        ).fetchall()
    return {(layer, asset, name): observed for layer, asset, name, observed in rows if observed is not None}


def expose(con: duckdb.DuckDBPyConnection, quality_dir: Path) -> None:
    """(Re)create the view quality.check_results over the log in `con`."""
    con.execute("create schema if not exists quality")
    con.execute(f"create or replace view quality.check_results as {_select_sql(quality_dir)}")


def _to_result(row: dict) -> CheckResult:
    values = {name: row[name] for name in CHECK_RESULT_COLUMNS}
    values["passed"] = bool(values["passed"])
    values["checked_at"] = pd.Timestamp(values["checked_at"]).to_pydatetime()
    for name in ("observed_value", "details"):
        values[name] = "" if pd.isna(values[name]) else str(values[name])
    return CheckResult(**values)
