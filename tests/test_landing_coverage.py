"""Every file under the landing folder is read or listed as ignored with its reason (issue 17
item 9): letter case does not hide an export (`ORDERS_UP.CSV`), `.tsv.gz` and `.ndjson` are read,
and a sub-folder, a misspelled entity folder, an unsupported type and a hidden file are each
named with why; `salesdw status` shows the last run's list."""

from __future__ import annotations

import gzip
import os

from typer.testing import CliRunner

from ingestion.globs import case_insensitive
from ingestion.ignored import last_ignored, write_ignored
from ingestion.loader import ingest
from orchestration.cli import app
from orchestration.settings import get_settings

ORDERS = "order_id,account_id,rep_id,opportunity_id,order_date,status,channel,currency\n"


def land(root, relative: str, data: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_every_landed_file_is_read_or_ignored_with_its_reason(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    landing = settings.landing_dir / "canonical"
    land(landing, "orders/ORDERS_UP.CSV", ORDERS + "O1,A1,R1,,2024-01-02,completed,web,CNY\n")
    land(landing, "Orders/more.Csv", ORDERS + "O2,A1,R1,,2024-01-03,completed,web,CNY\n")
    land(
        landing,
        "orders/o3.ndjson",
        '{"order_id": "O3", "account_id": "A1", "rep_id": "R1", "order_date": '
        '"2024-01-04", "status": "completed", "channel": "web", "currency": "CNY"}\n',
    )
    land(landing, "teams/t.tsv.gz", gzip.compress(b"team_id\tteam_name\tregion\nT1\tNorth\tN\n"))
    land(landing, "orders/2024/old.csv", ORDERS)
    land(landing, "order/typo.csv", ORDERS)
    land(landing, "orders/readme.txt", "notes")
    land(landing, "loose.csv", ORDERS)
    land(landing, "orders/.partial.csv", ORDERS)

    result = ingest(landing, "canonical", settings.raw_dir, settings.quality_dir)
    read = {f.file_path: (f.status, f.rows_loaded) for f in result.files}
    assert read == {
        "orders/ORDERS_UP.CSV": ("loaded", 1),
        "Orders/more.Csv": ("loaded", 1),
        "orders/o3.ndjson": ("loaded", 1),
        "teams/t.tsv.gz": ("loaded", 1),
    }
    ignored = {i.file_path: i.reason for i in result.ignored}
    assert ignored == {
        "orders/2024/old.csv": "in a sub-folder of orders/: only files directly in it are read",
        "order/typo.csv": "folder order/ is not read by profile 'canonical': did you mean orders/?",
        "orders/readme.txt": "unsupported file type (readable: csv, csv.gz, json, jsonl, ndjson, parquet, tsv, "
        "tsv.gz, xlsx)",
        "loose.csv": ignored["loose.csv"],
        "orders/.partial.csv": "hidden file or folder (a copy in progress or an editor's scratch file)",
    }
    assert ignored["loose.csv"].startswith("not in an entity folder (profile 'canonical' reads accounts/, ")
    # nothing under the folder is unaccounted for
    on_disk = {os.path.relpath(os.path.join(d, f), landing) for d, _, fs in os.walk(landing) for f in fs}
    assert on_disk == set(read) | set(ignored)

    write_ignored(settings.quality_dir, "run-1", result.ignored)
    assert last_ignored(settings.quality_dir) == ("run-1", result.ignored)
    status = " ".join(CliRunner().invoke(app, ["status", "--data-dir", str(tmp_path)]).output.split())
    assert "Ignored 5 file(s)" in status
    assert (
        "ignored canonical/order/typo.csv: folder order/ is not read by profile 'canonical': did you mean orders/?"
        in status
    )


def test_case_insensitive_globs():
    assert case_insensitive("{x}/*.csv") == "{[xX]}/*.[cC][sS][vV]"
    assert case_insensitive("a[bc]_?.Tsv") == "[aA][bBcC]_?.[tT][sS][vV]"
    assert case_insensitive("销售_*.csv") == "销售_*.[cC][sS][vV]"
