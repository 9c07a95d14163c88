"""The dbt project as Dagster sees it, and a manifest that is never stale.

dagster-dbt builds its asset graph from target/manifest.json. `ensure_manifest()` prepares it when
the definitions load (in `dagster dev`, the CLI, the tests, CI) and re-parses only when it is stale:
a project file newer than the manifest, another profile, or a prepared parse that something else
rewrote; so definitions load in well under a second on the warm path.
"""

from __future__ import annotations

import orchestration.dbt_core_free  # noqa: F401  (first: dagster-dbt without dbt-core)

# isort: split

import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR, PORTABLE_DUCKDB_PATHS

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST = dbt_project.manifest_path
PARSE_KEY = MANIFEST.parent / "parse_key.json"

_WATCHED_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}


def _newest_source_mtime() -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses"):
        for path in (DBT_PROJECT_DIR / folder).rglob("*"):
            if path.suffix in _WATCHED_SUFFIXES:
                newest = max(newest, path.stat().st_mtime)
    for name in ("dbt_project.yml", "profiles.yml"):
        newest = max(newest, (DBT_PROJECT_DIR / name).stat().st_mtime)
    return newest


def _parse_env() -> dict[str, str]:
    """The profile as the pipeline's runs render it (Settings.dbt_run_env), so they reuse this parse."""
    return {
        **os.environ,
        **PORTABLE_DUCKDB_PATHS,
        "SALESDW_DBT_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _parse_key() -> str:
    """What makes the prepared parse reusable by the pipeline's runs, besides the project files:
    the DuckDB profile as they render it (dbt keys partial parsing on it), and the prepared partial
    parse itself as this module left it. A `dbt` command run by hand in dbt_project/ rewrites
    target/partial_parse.msgpack with its own profile; every run in a new data dir (a user's
    first, each bench scale, each test) seeded from it would then parse the whole project again
    (+2-3 s each), so that counts as stale and is parsed again once."""
    env = _parse_env()
    profile = {k: env.get(k) for k in (*PORTABLE_DUCKDB_PATHS, "SALESDW_DUCKDB_MEMORY_LIMIT")}
    prepared = MANIFEST.parent / "partial_parse.msgpack"
    stat = prepared.stat() if prepared.exists() else None
    return json.dumps({"profile": profile, "prepared_parse": stat and [stat.st_size, stat.st_mtime_ns]}, sort_keys=True)


def manifest_is_stale() -> bool:
    return (
        not MANIFEST.exists()
        or MANIFEST.stat().st_mtime < _newest_source_mtime()
        or not PARSE_KEY.exists()
        or PARSE_KEY.read_text() != _parse_key()
    )


def ensure_manifest() -> Path:
    MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (test workers, a CLI run beside `dagster dev`) may ask at once: parse once.
    with open(MANIFEST.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():
            _parse()
    return MANIFEST


@functools.cache
def manifest_json() -> dict:
    """The parsed manifest, read once per process: 2 MB of JSON (0.16 s to parse) that the asset
    definitions (stored relations, source freshness rules) all read when the definitions load."""
    return json.loads(ensure_manifest().read_text())


def seed_partial_parse(target_path: Path) -> None:
    """Start a data dir's dbt target folder from the project's parse, so its first build parses
    partially (dbt checks the parse against the project files, the profile and the vars itself,
    and re-parses what differs; nothing stale can be reused)."""
    prepared = MANIFEST.parent / "partial_parse.msgpack"
    seeded = Path(target_path) / "partial_parse.msgpack"
    if prepared.exists() and not seeded.exists():
        seeded.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared, seeded)


def _parse() -> None:
    dbt = Path(sys.executable).parent / "dbt"
    env = _parse_env()
    proc = subprocess.run(
        [
            str(dbt),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(MANIFEST.parent),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    PARSE_KEY.write_text(_parse_key())
