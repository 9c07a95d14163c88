"""Shared fixtures. The expensive one, `demo_warehouse`, generates a small demo company and runs
the real CLI (`salesdw run`: Dagster job, dbt build, checks, publish) once per test session; test
workers share it through a lock, so it is built once even under pytest-xdist."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SALESDW = str(Path(sys.executable).parent / "salesdw")

# Small but complete: every mart has content at this size (a few thousand order lines).
DEMO_SCALE = 0.05
DEMO_SEED = 7
DEMO_MONTHS = 18


# `make test` runs `-n 2 --dist loadfile --no-loadscope-reorder`: each worker takes whole files in
# collection order (xdist's default reorder, by number of tests per file, would put the many quick
# unit-test files first and leave the long end-to-end files to the end, one worker waiting on the
# other). So the longest files come first, longest first, and test_concurrency last: it reads the
# reliability scenario that test_crash_recovery (first) computes, so by then it no longer waits
# for it. (`xdist_group` marks are ignored under loadfile; those two files share the scenario
# through its lock file instead.) The others keep their order. Ranked by the pipeline runs each
# file makes (its own runs, the demo's copies, the scenario); a file missing here only starts later.
SLOWEST_MODULES = (
    "test_crash_recovery.py",
    "test_dirty_end_to_end.py",
    "test_bad_input_corpus.py",
    "test_profile_crm_zh.py",
    "test_maven_crm_end_to_end.py",
    "test_postgres_end_to_end.py",
    "test_currency_twin_end_to_end.py",
    "test_reshaped_exports_end_to_end.py",
    "test_history_end_to_end.py",
    "test_operator_selection.py",
    "test_marts_order_lines_incremental.py",
    "test_quality_raw.py",
    "test_dbt_test_gate.py",
    "test_end_to_end.py",
    "test_report.py",
    "test_dbt_docs.py",
)
LAST_MODULES = ("test_concurrency.py",)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_MODULES)}

    def place(item) -> tuple[int, int]:
        name = item.path.name
        if name in LAST_MODULES:
            return (2, 0)
        return (0, rank[name]) if name in rank else (1, 0)

    items.sort(key=place)  # stable: tests keep their order within a file, and the other files theirs


def shared_path(*parts: str) -> Path:
    """A file under ../shared; skips (with the reason) only where ../shared is absent outside CI."""
    path = SHARED.joinpath(*parts)
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            raise AssertionError(f"{SHARED} is missing in CI")
        pytest.skip(f"{SHARED} is absent: the shared datasets/specs live beside the repository")
    return path


PG_ADMIN_URL = os.environ.get("SALESDW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_reachable(url: str = PG_ADMIN_URL) -> bool:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def require_postgres(url: str = PG_ADMIN_URL, *, module_level: bool = False) -> None:
    """Skip with the reason only outside CI; in CI the server exists and a failure must show.
    module_level: called at import time of a test module (skips the whole module)."""
    if not postgres_reachable(url):
        if os.environ.get("CI"):
            raise AssertionError(f"PostgreSQL is not reachable at {url} in CI")
        pytest.skip(f"no PostgreSQL server reachable at {url}", allow_module_level=module_level)


def _fresh_database(prefix: str) -> str:
    """A new empty database; leftovers of ended sessions with the same prefix are dropped (a
    session still running, say a second checkout's test run, keeps its own)."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
        named = [r[0] for r in pg.execute("select datname from pg_database where datname like %s", (prefix + "_%",))]
        for db in [db for db in named if not _process_alive(db.rsplit("_", 1)[-1])]:
            pg.execute(f'drop database if exists "{db}" with (force)')
        pg.execute(f'create database "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _process_alive(pid: str) -> bool:
    """Whether the process that named a database (its pid suffix) still runs on this machine."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@dataclass(frozen=True)
class DemoRun:
    data_dir: Path
    exports: Path
    warehouse: Path
    exit_code: int
    output: str
    postgres_url: str | None = None


def salesdw(*args: str, data_dir: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "SALESDW_DATA_DIR": str(data_dir),
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **(env or {}),
    }
    full_env.pop("DAGSTER_HOME", None)
    return subprocess.run([SALESDW, *args], env=full_env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    # Under xdist every worker's basetemp sits in one per-session folder: share the build there.
    # Without xdist use this session's own basetemp (its parent outlives the session).
    basetemp = tmp_path_factory.getbasetemp()
    root = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    data_dir = root / f"demo-s{DEMO_SCALE}-seed{DEMO_SEED}"
    exports = data_dir / "landing" / "canonical"
    done = data_dir / "demo_run.json"
    with open(root / "demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            # The demo run also publishes to PostgreSQL when a server is there (always in CI).
            pg_url = _fresh_database("salesdw_demo") if postgres_reachable() else None
            gen = salesdw(
                "generate",
                "--out",
                str(exports),
                "--scale",
                str(DEMO_SCALE),
                "--seed",
                str(DEMO_SEED),
                "--months",
                str(DEMO_MONTHS),
                data_dir=data_dir,
            )
            assert gen.returncode == 0, gen.stdout + gen.stderr
            run = salesdw("run", data_dir=data_dir, env={"SALESDW_POSTGRES_URL": pg_url} if pg_url else None)
            done.write_text(
                json.dumps({"exit_code": run.returncode, "output": run.stdout + run.stderr, "postgres_url": pg_url})
            )
    state = json.loads(done.read_text())
    return DemoRun(
        data_dir=data_dir,
        exports=exports,
        warehouse=data_dir / "warehouse" / "sales.duckdb",
        exit_code=state["exit_code"],
        output=state["output"],
        postgres_url=state["postgres_url"],
    )
