"""Dirty exports, end to end through the real CLI: `salesdw generate --dirty` writes a small
company with a known set of bad rows and bad files (listed in `_manifest.json` with the outcome
each must get), `salesdw run` ingests, builds, checks and publishes it, and a second `salesdw run`
over the unchanged folder must load nothing twice.

Checked against the manifest, exactly: every file's ledger status and row counts, every
quarantined row's file, row number, reason and original text; rows read = loaded + quarantined
everywhere; the marts' net revenue equal to what the clean CSV rows give (computed here with
pandas, newer order versions winning); and the second run's ledger, raw zone and marts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.canonical import ENTITIES
from ingestion.ledger import read_ledger
from orchestration.settings import get_settings
from tests.conftest import salesdw

pytestmark = pytest.mark.slow

SCALE, SEED, MONTHS = 0.02, 5, 12
EXIT_PUBLISHED_WITH_REJECTED_FILES = 3


def warehouse_state(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        return {
            "net_revenue": con.execute("select sum(net_revenue) from marts.mart_rep_kpi_monthly").fetchone()[0],
            "team_net_revenue": con.execute("select sum(net_revenue) from marts.mart_team_kpi_monthly").fetchone()[0],
            "mart_rows": {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables},
        }


def quarantined_rows(data_dir: Path) -> list[tuple]:
    """The quarantine as the raw zone keeps it (the serving warehouse leaves it out: personal data)."""
    folder = get_settings(data_dir).quality_dir / "quarantine"
    with duckdb.connect() as con:
        return con.execute(
            f"select file_path, row_number, reason, raw_record from read_parquet('{folder}/*.parquet') order by 1, 2"
        ).fetchall()


def raw_files(data_dir: Path) -> list[str]:
    settings = get_settings(data_dir)
    return sorted(
        p.relative_to(settings.data_dir).as_posix()
        for folder in (settings.raw_dir, settings.quality_dir / "quarantine")
        for p in folder.rglob("*.parquet")
    )


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("dirty")
    exports = data_dir / "landing" / "canonical"
    gen = salesdw(
        "generate",
        "--dirty",
        "--out",
        str(exports),
        "--scale",
        str(SCALE),
        "--seed",
        str(SEED),
        "--months",
        str(MONTHS),
        data_dir=data_dir,
    )
    assert gen.returncode == 0, gen.stdout + gen.stderr
    settings = get_settings(data_dir)
    first = salesdw("run", data_dir=data_dir)
    after_first = {
        "ledger": read_ledger(settings.quality_dir),
        "raw_files": raw_files(data_dir),
        "quarantine": quarantined_rows(data_dir),
        "warehouse": warehouse_state(settings.serving_warehouse) if settings.serving_warehouse.exists() else None,
    }
    second = salesdw("run", data_dir=data_dir)
    after_second = {
        "ledger": read_ledger(settings.quality_dir),
        "raw_files": raw_files(data_dir),
        "quarantine": quarantined_rows(data_dir),
        "warehouse": warehouse_state(settings.serving_warehouse),
    }
    manifest = json.loads((exports / "_manifest.json").read_text(encoding="utf-8"))
    return {
        "exports": exports,
        "manifest": manifest,
        "first": first,
        "second": second,
        "after_first": after_first,
        "after_second": after_second,
    }


def test_the_run_publishes_and_reports_the_rejected_files(dirty):
    first = dirty["first"]
    assert first.returncode == EXIT_PUBLISHED_WITH_REJECTED_FILES, (first.stdout + first.stderr)[-4000:]
    assert dirty["after_first"]["warehouse"] is not None
    rejected = [r["file"] for r in dirty["manifest"]["files"] if r["expected"]["status"] == "rejected"]
    assert len(rejected) == 4
    for file in rejected:
        assert f"rejected {file}" in " ".join(first.stdout.split()), file


def test_ledger_equals_the_manifest_file_by_file(dirty):
    ledger = dirty["after_first"]["ledger"]
    assert ledger.file_path.is_unique  # one attempt per file in the first run
    got = {
        r.file_path: (r.entity, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in ledger.itertuples()
    }
    expected = {
        r["file"]: (
            r["entity"],
            r["expected"]["status"],
            r["expected"]["rows_read"],
            r["expected"]["rows_loaded"],
            r["expected"]["rows_quarantined"],
        )
        for r in dirty["manifest"]["files"]
    }
    assert got == expected
    statuses = ledger.status.value_counts().to_dict()
    # + orders_update.csv and the month-end reps snapshots (reps/reps_YYYY-MM-DD.csv)
    snapshots = [r["file"] for r in dirty["manifest"]["files"] if r["file"].startswith("reps/reps_")]
    assert snapshots and all(len(name) == len("reps/reps_2024-01-31.csv") for name in snapshots)
    assert statuses == {"loaded": len(ENTITIES) + 1 + len(snapshots), "rejected": 4, "duplicate_file": 1}
    errors = dict(zip(ledger.file_path, ledger.error))
    for defect in dirty["manifest"]["defects"]:
        if defect["outcome"] == "rejected":
            assert errors[defect["file"]].startswith(defect["file"] + ": ")
            if defect["reason_keyword"]:
                assert defect["reason_keyword"] in errors[defect["file"]]


def test_rows_read_equal_loaded_plus_quarantined_everywhere(dirty):
    for state in ("after_first", "after_second"):
        ledger = dirty[state]["ledger"]
        assert (ledger.rows_read == ledger.rows_loaded + ledger.rows_quarantined).all()
        assert (ledger[ledger.status != "loaded"].rows_read == 0).all()


def test_every_bad_row_is_quarantined_with_its_reason_and_original_text(dirty):
    quarantined = dirty["after_first"]["quarantine"]
    bad_rows = {(d["file"], d["row_number"]): d for d in dirty["manifest"]["defects"] if d["outcome"] == "quarantined"}
    assert len(bad_rows) == 24
    assert [(f, n) for f, n, _, _ in quarantined] == sorted(bad_rows)
    for file, row_number, reason, raw_record in quarantined:
        defect = bad_rows[(file, row_number)]
        assert f"{defect['reason_keyword']}:" in reason, (file, row_number, reason)
        original = json.loads(raw_record)
        assert (original[defect["column"]] or "") == defect["value"]
        key, value = next(iter(defect["key"].items()))
        assert original[key] == value


def read_rows(exports: Path, file: str) -> pd.DataFrame:
    frame = pd.read_csv(exports / file, dtype=str, keep_default_na=False, na_values=[""])
    frame["_row_number"] = range(1, len(frame) + 1)
    frame["_file"] = file
    return frame


def clean_rows(dirty, entity: str, files: list[str] | None = None) -> pd.DataFrame:
    """The entity's rows from its loadable CSVs minus the quarantined ones, latest version per key
    (later files, then later rows, win)."""
    manifest = dirty["manifest"]
    files = files or sorted(
        r["file"] for r in manifest["files"] if r["entity"] == entity and r["expected"]["status"] == "loaded"
    )
    bad = {(d["file"], d["row_number"]) for d in manifest["defects"] if d["outcome"] == "quarantined"}
    frame = pd.concat([read_rows(dirty["exports"], f) for f in files], ignore_index=True)
    frame = frame[[(f, n) not in bad for f, n in zip(frame._file, frame._row_number)]]
    return frame.drop_duplicates(list(ENTITIES[entity].key), keep="last")


def test_loaded_rows_are_exactly_the_good_rows(dirty):
    raw_dir = get_settings(dirty["exports"].parent.parent).raw_dir
    with duckdb.connect() as con:
        for entity in ("orders", "order_lines", "activities", "survey_responses", "expenses", "opportunities", "leads"):
            keys = ENTITIES[entity].key
            loaded = set(
                con.execute(
                    f"select distinct {', '.join(keys)} from read_parquet('{raw_dir / entity}/*.parquet')"
                ).fetchall()
            )
            expected = {
                tuple(str(v) for v in row) for row in clean_rows(dirty, entity)[list(keys)].itertuples(index=False)
            }
            loaded = {tuple(str(v) for v in row) for row in loaded}
            assert loaded == expected, entity
    late_orders = [d["key"]["order_id"] for d in dirty["manifest"]["defects"] if d["kind"] == "unknown_account"]
    assert len(late_orders) == 3 and set(late_orders) <= set(clean_rows(dirty, "orders").order_id)


def test_net_revenue_is_that_of_the_clean_rows(dirty):
    orders = clean_rows(dirty, "orders")
    lines = clean_rows(dirty, "order_lines")
    returns = clean_rows(dirty, "returns")
    completed = set(orders[orders.status == "completed"].order_id)
    sold = lines[lines.order_id.isin(completed)]
    gross = sum(
        Decimal(q) * Decimal(p) - Decimal(d if isinstance(d, str) else "0")
        for q, p, d in zip(sold.quantity, sold.unit_price, sold.discount_amount)
    )
    refunds = sum(Decimal(a) for a, o in zip(returns.refund_amount, returns.order_id) if o in completed)
    state = dirty["after_first"]["warehouse"]
    assert gross > 0 and refunds > 0
    assert state["net_revenue"] == state["team_net_revenue"] == gross - refunds
    # the re-sent orders count: some pending orders of orders.csv are completed by orders_update.csv
    first_versions = clean_rows(dirty, "orders", files=["orders/orders.csv"])
    assert set(first_versions[first_versions.status == "completed"].order_id) < completed


def test_a_second_run_loads_nothing_twice(dirty):
    second = dirty["second"]
    assert second.returncode == EXIT_PUBLISHED_WITH_REJECTED_FILES, (second.stdout + second.stderr)[-4000:]
    before, after = dirty["after_first"], dirty["after_second"]
    new = after["ledger"].iloc[len(before["ledger"]) :]
    assert before["ledger"].equals(after["ledger"].iloc[: len(before["ledger"])])
    # only the rejected files are attempted again (the profile may have been fixed meanwhile)
    rejected = sorted(before["ledger"][before["ledger"].status == "rejected"].file_path)
    assert sorted(new.file_path) == rejected and set(new.status) == {"rejected"}
    assert (new.rows_read == 0).all()
    assert after["raw_files"] == before["raw_files"]
    assert after["quarantine"] == before["quarantine"]
    assert after["warehouse"] == before["warehouse"]
