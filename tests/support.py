"""Helpers the tests share: hand-made raw batches, real dbt builds into a throwaway warehouse, and
the sales report's pages written and drawn in headless Chromium.

Fixture data goes straight into the raw-zone layout (ingestion/raw_zone.py), so a mart test can
state its inputs row by row and compute the expected values by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion.canonical import entity as canonical_entity
from ingestion.raw_zone import expose_file, raw_columns
from orchestration.dbt_manifest import seed_partial_parse
from orchestration.settings import DBT_PROJECT_DIR, get_settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_batch_counter = itertools.count(1)
_BASE_LOADED_AT = datetime(2030, 1, 1)


def write_raw_batch(
    raw_dir: Path,
    entity: str,
    rows: list[dict],
    *,
    profile: str = "canonical",
    batch_id: str | None = None,
    loaded_at: datetime | None = None,
) -> Path:
    """Write `rows` (dicts of canonical column -> python value or string) as one raw batch.

    Missing columns are NULL; values are cast to the contract's types by DuckDB. Each call gets a
    later _loaded_at than the previous one, so later batches are newer versions.
    """
    ent = canonical_entity(entity)
    n = next(_batch_counter)
    batch_id = batch_id or f"test-{n:06d}"
    loaded_at = loaded_at or (_BASE_LOADED_AT + timedelta(seconds=n))
    columns = raw_columns(ent)
    folder = raw_dir / entity
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch_id}.parquet"
    records = []
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(ent.column_names)
        if unknown:
            raise KeyError(f"{entity} has no columns {sorted(unknown)}")
        rec = {c: (None if row.get(c) is None else str(row.get(c))) for c in ent.column_names}
        rec.update(
            _batch_id=batch_id,
            _profile=profile,
            _source_file=f"fixture/{entity}.csv",
            _row_number=str(i),
            _loaded_at=loaded_at.isoformat(sep=" "),
        )
        records.append(rec)
    con = duckdb.connect()
    projection = ", ".join(f"cast(r['{c}'] as {t}) as {c}" for c, t in columns.items())
    if records:
        con.execute("create table t as select unnest(?::json[]) as j", [[json.dumps(r) for r in records]])
        con.execute(
            f"copy (select {projection} from (select json_transform(j, ?) as r from t)) to '{path}' (format parquet)",
            [json.dumps({c: "VARCHAR" for c in columns})],
        )
    else:
        empty = ", ".join(f"cast(null as {t}) as {c}" for c, t in columns.items())
        con.execute(f"copy (select {empty} limit 0) to '{path}' (format parquet)")
    con.close()
    return path


def land_two_contacts(landing_dir: Path) -> Path:
    """A canonical contacts export with personal data: C1 loads, C2 (no account) is quarantined.
    Returns the profile's landing folder."""
    contacts = landing_dir / "canonical" / "contacts"
    contacts.mkdir(parents=True)
    (contacts / "c.csv").write_text(
        "contact_id,account_id,full_name,email,phone,title,created_at\n"
        "C1,A1,Wang Fang,fang.wang@example.cn,13912345678,CFO,2024-01-02 10:00:00\n"
        "C2,,Li Lei,lei.li@example.cn,13887654321,CEO,2024-01-03 10:00:00\n"
    )
    return contacts.parent


def dbt(data_dir: Path, *args: str, vars: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the dbt CLI on the project against data_dir's build warehouse (own target/log paths,
    so concurrent builds never share dbt_project/target)."""
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    # cautious: `--select +my_mart` must not run other marts' relationship tests on unbuilt tables
    # as the pipeline runs dbt: paths relative to the data dir, starting from the prepared parse
    env = {
        **os.environ,
        **settings.dbt_run_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_INDIRECT_SELECTION": "cautious",
    }
    seed_partial_parse(data_dir / "dbt_target")
    cmd = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(data_dir / "dbt_target"),
        "--log-path",
        str(data_dir / "dbt_logs"),
    ]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=settings.data_dir)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}")
    return proc


def dbt_relations(warehouse: Path) -> tuple[dict[str, int], set[str]]:
    """The dbt layers' relations in a warehouse file: each stored table's row count by
    "schema/name", and the views' "schema/name"."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_schema in ('config', 'staging', 'intermediate', 'marts')"
        ).fetchall()
        tables = {
            f"{schema}/{name}": con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            for schema, name, kind in relations
            if kind == "BASE TABLE"
        }
    return tables, {f"{schema}/{name}" for schema, name, kind in relations if kind == "VIEW"}


def build_warehouse(
    data_dir: Path, *, select: str | None = None, vars: dict | None = None, command: str = "build"
) -> Path:
    """Expose data_dir/raw to the build warehouse and run `dbt <command>`; returns the warehouse."""
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    args = [command] + (["--select", select] if select else [])
    dbt(data_dir, *args, vars=vars)
    return settings.build_warehouse


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def probe_in_fresh_interpreter(code: str) -> dict:
    """Run `code` in a new Python interpreter (nothing imported, frozen or started yet) from the
    repository root; it prints a JSON object as its last line, returned here."""
    import textwrap

    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the sales report in a browser

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="headless Chromium (Debian package `chromium`) is not installed and CI is unset",
)


def write_report_pages(warehouse: Path, base: Path, *, currency: str | None = "CNY") -> dict:
    """The report of `warehouse` in English and Chinese, written under `base`:
    {"en": path, "zh": path, "base": base, "warehouse": warehouse}."""
    from orchestration.serving.report import write_report  # altair and vl-convert: only for the report's tests

    return {
        "base": base,
        "warehouse": warehouse,
        **{lang: write_report(warehouse, base / "out", lang=lang, currency=currency) for lang in ("en", "zh")},
    }


def render_in_chromium(page: Path, tmp: Path) -> str:
    """The DOM after the page's scripts ran, from headless Chromium with every host unresolvable."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp))  # one per browser
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def render_report_pages(pages: dict, keys=("en", "zh")) -> dict[str, str]:
    """The DOM of the pages[key] pages (paths, beside pages["base"]) after their scripts ran, two
    browsers at a time. Callers are marked needs_chromium: without Chromium only CI gets here, and fails."""
    if not Path(CHROMIUM).exists():
        pytest.fail("CI is set but /usr/bin/chromium is missing (apt-get install -y chromium)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(keys, pool.map(lambda key: render_in_chromium(pages[key], pages["base"]), keys)))
