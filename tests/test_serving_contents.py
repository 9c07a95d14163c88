"""What the serving file holds, and who may read the files of the data directory.

The serving warehouse (what every BI reader opens) holds the marts and the published quality
tables, as tables: no view, no raw, staging or intermediate schema, nothing that reaches the raw
zone or a personal column. The demo's real e-mail addresses, read from the generated contacts and
leads CSVs, are searched for in every text column of it; the same search over the build warehouse's
staging view finds them, so the search itself is shown to work. The raw zone, quarantine, ledger,
check results and build warehouse are owner-only; the serving file is readable by all.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.loader import ingest
from orchestration.settings import get_settings
from tests.support import land_two_contacts

PERSONAL_COLUMNS = {"email", "phone", "full_name"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def demo_emails(exports: Path) -> list[str]:
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False)
        for entity in ("contacts", "leads")
        for p in sorted((exports / entity).glob("*.csv"))
    ]
    emails = sorted({e for frame in frames for e in frame["email"] if "@" in e})
    assert len(emails) > 50, len(emails)  # a real fixture
    return emails


def email_hits(con: duckdb.DuckDBPyConnection, catalog: str, emails: list[str], where: str = "true") -> dict[str, int]:
    """Rows holding one of `emails` (anywhere in the value), per text column of `catalog`."""
    con.execute("create or replace temp table wanted as select unnest(?::varchar[]) as email", [emails])
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_catalog = ? and data_type = 'VARCHAR' and {where}",
        [catalog],
    ).fetchall()
    assert columns
    hits = {}
    for schema, table, column in columns:
        (n,) = con.execute(
            f'select count(*) from "{catalog}"."{schema}"."{table}" t join wanted w on contains(t."{column}", w.email)'
        ).fetchone()
        hits[f"{schema}.{table}.{column}"] = n
    return hits


def test_the_serving_file_holds_only_marts_and_quality_tables(demo_run):
    assert demo_run.exit_code == 0, demo_run.output
    build = get_settings(demo_run.data_dir).build_warehouse
    with duckdb.connect(str(build), read_only=True) as con:
        built_marts = {
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relations = con.execute("select table_schema, table_name, table_type from information_schema.tables").fetchall()
        schemas = {
            s
            for (s,) in con.execute(
                "select schema_name from duckdb_schemas() where database_name = current_database() and not internal"
            ).fetchall()
        }
        views = con.execute("select view_name from duckdb_views() where not internal").fetchall()
        macros = con.execute("select function_name from duckdb_functions() where not internal").fetchall()
        columns = {c.lower() for (c,) in con.execute("select column_name from information_schema.columns").fetchall()}
    assert len(built_marts) >= 10
    assert {(s, t) for s, t, _ in relations} == (
        {("marts", t) for t in built_marts} | {("quality", "ingestion_ledger"), ("quality", "check_results")}
    )
    assert {kind for _, _, kind in relations} == {"BASE TABLE"}
    assert schemas <= {"marts", "quality", "main"}  # main: every DuckDB file has it (empty here)
    assert views == [] and macros == []
    assert not columns & PERSONAL_COLUMNS


def test_no_demo_email_is_readable_through_the_serving_file(demo_run):
    emails = demo_emails(demo_run.exports)
    build = get_settings(demo_run.data_dir).build_warehouse
    with duckdb.connect() as con:
        con.execute(f"attach '{demo_run.warehouse}' as serving (read_only)")
        con.execute(f"attach '{build}' as build (read_only)")
        served = email_hits(con, "serving", emails)
        # the same search finds them where they are: the staging view over the raw zone
        staged = email_hits(con, "build", emails, "table_name = 'stg_contacts' and column_name = 'email'")
    assert {where for where, n in served.items() if n} == set()
    assert len(served) >= 20  # every text column of the file was searched
    assert staged["staging.stg_contacts.email"] >= len(emails) // 4


def test_the_demo_run_leaves_private_files_owner_only_and_the_serving_file_readable(demo_run):
    settings = get_settings(demo_run.data_dir)
    private_dirs = [
        settings.raw_dir,
        settings.quality_dir,
        settings.temp_dir,
        *[d for d in settings.raw_dir.iterdir() if d.is_dir()],
        *[d for d in settings.quality_dir.iterdir() if d.is_dir()],
    ]
    assert len(private_dirs) >= 12
    assert {str(d): oct(mode(d)) for d in private_dirs if mode(d) != 0o700} == {}
    files = [p for d in (settings.raw_dir, settings.quality_dir) for p in d.rglob("*.parquet")]
    files.append(settings.build_warehouse)
    assert len(files) >= 20
    assert {str(p): oct(mode(p)) for p in files if mode(p) != 0o600} == {}
    assert mode(settings.serving_warehouse) == 0o644


def test_an_ingest_writes_raw_quarantine_and_ledger_owner_only_whatever_the_umask(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    landing = land_two_contacts(settings.landing_dir)  # C2 has no account: quarantined
    previous = os.umask(0o022)
    try:
        (result,) = ingest(landing, "canonical", settings.raw_dir, settings.quality_dir).files
    finally:
        os.umask(previous)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    written = {p.relative_to(tmp_path).parts[:2]: p for p in tmp_path.rglob("*.parquet")}
    assert set(written) == {("raw", "contacts"), ("quality", "quarantine"), ("quality", "ledger")}
    for path in written.values():
        assert (mode(path), mode(path.parent)) == (0o600, 0o700), path


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_private_folders_are_owner_only_even_when_they_existed(tmp_path, umask):
    settings = get_settings(tmp_path)
    settings.raw_dir.mkdir(parents=True, mode=0o777)
    os.chmod(settings.raw_dir, 0o755)  # a data dir from before this rule
    previous = os.umask(umask)
    try:
        settings.ensure_dirs()
    finally:
        os.umask(previous)
    assert [oct(mode(d)) for d in (settings.raw_dir, settings.quality_dir, settings.temp_dir)] == ["0o700"] * 3


# Reads every mart and prints {table: [rows, digest]}: the digest is over the sorted reprs of the
# rows as Python values (Decimal, date, str, ...), the same whichever DuckDB version fetched them.
READ_MARTS = """
import hashlib, json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {"version": duckdb.__version__}
for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'marts'").fetchall():
    rows = con.execute(f'select * from marts."{t}"').fetchall()
    out[t] = [len(rows), hashlib.sha256("\\n".join(sorted(map(repr, rows))).encode()).hexdigest()]
print(json.dumps(out))
"""


def uv_executable() -> str:
    import shutil

    from tests.conftest import REPO

    found = shutil.which("uv") or (str(REPO / ".uv" / "bin" / "uv") if (REPO / ".uv" / "bin" / "uv").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            raise AssertionError("uv is missing in CI (the Makefile bootstraps it)")
        pytest.skip("uv is not installed (make setup bootstraps it): cannot make a DuckDB 1.4 environment")
    return found


def read_marts(python: list[str], warehouse: Path) -> dict:
    import json
    import subprocess

    proc = subprocess.run([*python, "-c", READ_MARTS, str(warehouse)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_duckdb_1_4_client_reads_every_mart_of_the_serving_file_as_duckdb_2_does(demo_run):
    import sys

    lts = read_marts(
        [uv_executable(), "run", "--isolated", "--no-project", "--quiet", "--with", "duckdb==1.4.*", "python"],
        demo_run.warehouse,
    )
    current = read_marts([sys.executable], demo_run.warehouse)
    assert lts.pop("version").startswith("1.4.") and current.pop("version").startswith("2.")
    assert len(current) >= 10 and all(rows > 0 for rows, _ in current.values())
    assert lts == current


def test_the_serving_storage_version_is_a_setting(monkeypatch):
    assert get_settings("/tmp/x").serving_storage_version == "v1.4.0"
    monkeypatch.setenv("SALESDW_SERVING_STORAGE_VERSION", "v1.2.0")
    assert get_settings("/tmp/x").serving_storage_version == "v1.2.0"
