"""Where everything lives and how the engines are tuned: one home for paths and knobs.

All paths hang off one data directory (default ./data, or $SALESDW_DATA_DIR), so the
Dagster resources, the dbt profile, the CLI and the tests agree on one warehouse file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.canonical import FUTURE_DATE_HORIZON_DAYS
from ingestion.file_modes import private_dir
from ingestion.limits import MAX_LINE_BYTES, XLSX_MAX_BYTES, XLSX_MAX_CELLS, ReadLimits
from orchestration.dbt_launcher import DBT_CWD_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


# The DuckDB profile paths relative to the data dir (Settings.build_warehouse and .temp_dir).
PORTABLE_DUCKDB_PATHS = {"SALESDW_BUILD_WAREHOUSE": "warehouse/build.duckdb", "SALESDW_TEMP_DIR": "tmp"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    reporting_currency: str = "CNY"
    # DuckDB resource limits: the engine spills to temp_dir instead of growing without bound.
    # 1GB: the whole run must stay under 2 GB at scale 50 (3 million order lines), and the Dagster
    # process (~0.6 GB) and dbt's own Python (~0.25 GB) come on top, and the raw-layer audit beside
    # the dbt build gets a quarter of it (quality/raw_audit.py; peak 1.75 GB, measured by `make bench`).
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int = 2
    # export files ingested at a time, on one DuckDB engine within the limits above (2: a file's
    # row numbering and Parquet writer leave the second core idle; ingestion/loader.py)
    ingest_parallel_files: int = 2
    as_of_date: str | None = None  # YYYY-MM-DD; default: derived from the data (marts.md)
    # publish the marts to PostgreSQL when set; kept out of repr() so no log line shows the password
    postgres_url: str | None = field(default=None, repr=False)
    # which engine runs the dbt build: duckdb (embedded, the default) or spark (the `spark` target
    # of the dbt profile; its build is copied back into the DuckDB build warehouse for the checks)
    engine: str = "duckdb"
    # the DuckDB storage format of the serving file: v1.4.0 opens in DuckDB 1.4 and later (the LTS
    # line that BI tools and client libraries embed), which cannot read a file written as 2.0's
    serving_storage_version: str = "v1.4.0"
    # a row dated more than this many days after its file is ingested is quarantined (a typo year)
    future_date_horizon_days: int = FUTURE_DATE_HORIZON_DAYS
    # The daily full refresh (SALESDW_SCHEDULE_CRON / _TIMEZONE): 06:00, before the sales managers'
    # day starts, in the company's time zone. Reporting in CNY, the company keeps China Standard
    # Time (IANA Asia/Shanghai: UTC+8 all year, no daylight saving); without a time zone Dagster
    # reads the cron in UTC, i.e. 14:00 there.
    schedule_cron: str = "0 6 * * *"
    schedule_timezone: str = "Asia/Shanghai"
    # What one landed file may make a reader hold before it is refused (ingestion/limits.py):
    # DuckDB's memory limit does not cover calamine's worksheets or Python's header read.
    xlsx_max_bytes: int = XLSX_MAX_BYTES  # a workbook's XML, inflated
    xlsx_max_cells: int = XLSX_MAX_CELLS  # cells of its worksheets
    max_line_bytes: int = MAX_LINE_BYTES  # one line of a delimited text file

    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.xlsx_max_bytes, self.xlsx_max_cells, self.max_line_bytes)

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def quality_dir(self) -> Path:
        return self.data_dir / "quality"

    @property
    def warehouse_dir(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def build_warehouse(self) -> Path:
        """dbt builds here; checks audit it; readers never open it."""
        return self.warehouse_dir / "build.duckdb"

    @property
    def serving_warehouse(self) -> Path:
        """Published copy that analysts and BI tools read (swapped in atomically)."""
        return self.warehouse_dir / "sales.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def temp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def spark_dir(self) -> Path:
        """Spark's metastore (Derby), table files and exports when engine is spark."""
        return self.data_dir / "spark"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / ".run.lock"

    def ensure_dirs(self) -> None:
        for d in (self.landing_dir, self.warehouse_dir, self.reports_dir, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        # exports as landed, rejected rows, work files and spills: owner only (ingestion/file_modes.py)
        for d in (self.raw_dir, self.quality_dir, self.temp_dir):
            private_dir(d)

    def duckdb_limits(self) -> dict[str, str | int]:
        """DuckDB config for every connection that may scan a whole table (ingestion, the checks,
        row counts): the memory limit, spilling to temp_dir beyond it, and the thread count. dbt
        gets the same values through dbt_env (the profile)."""
        return {
            "memory_limit": self.duckdb_memory_limit,
            "threads": self.duckdb_threads,
            "temp_directory": str(self.temp_dir),
        }

    def dbt_env(self) -> dict[str, str]:
        """Environment the dbt profile (dbt_project/profiles.yml) reads."""
        env = {
            "SALESDW_DATA_DIR": str(self.data_dir),
            "SALESDW_BUILD_WAREHOUSE": str(self.build_warehouse),
            "SALESDW_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "SALESDW_DUCKDB_THREADS": str(self.duckdb_threads),
            "SALESDW_TEMP_DIR": str(self.temp_dir),
            "SALESDW_DBT_TARGET": self.engine,
            "SALESDW_SPARK_DIR": str(self.spark_dir),
        }
        return env

    def dbt_run_env(self) -> dict[str, str]:
        """dbt_env for the pipeline's own dbt runs: on DuckDB the paths are relative to the data dir,
        where the dbt launcher starts dbt (DBT_CWD_ENV). dbt re-parses the whole project whenever the
        profile's rendered connection settings change; with absolute paths every new data dir (a
        user's first run, each bench scale, each test) paid a full parse, about 5 s of a 20 s build.
        Relative, the parse prepared at set-up (orchestration/dbt_manifest.py) is reused everywhere."""
        env = self.dbt_env()
        if self.engine == "duckdb":
            env.update(PORTABLE_DUCKDB_PATHS)
            env[DBT_CWD_ENV] = str(self.data_dir)
        return env


def get_settings(data_dir: str | Path | None = None) -> Settings:
    raw = data_dir or os.environ.get("SALESDW_DATA_DIR") or (Path.cwd() / "data")
    return Settings(
        data_dir=Path(raw).expanduser().resolve(),
        reporting_currency=os.environ.get("SALESDW_CURRENCY", "CNY"),
        duckdb_memory_limit=os.environ.get("SALESDW_DUCKDB_MEMORY_LIMIT", "1GB"),
        duckdb_threads=int(os.environ.get("SALESDW_DUCKDB_THREADS", "2")),
        ingest_parallel_files=_positive("SALESDW_INGEST_PARALLEL_FILES", "2"),
        as_of_date=os.environ.get("SALESDW_AS_OF_DATE") or None,
        postgres_url=os.environ.get("SALESDW_POSTGRES_URL") or None,
        engine=_engine(os.environ.get("SALESDW_ENGINE") or "duckdb"),
        serving_storage_version=os.environ.get("SALESDW_SERVING_STORAGE_VERSION") or "v1.4.0",
        future_date_horizon_days=_positive("SALESDW_FUTURE_DATE_HORIZON_DAYS", str(FUTURE_DATE_HORIZON_DAYS)),
        schedule_cron=os.environ.get("SALESDW_SCHEDULE_CRON") or "0 6 * * *",
        schedule_timezone=os.environ.get("SALESDW_SCHEDULE_TIMEZONE") or "Asia/Shanghai",
        xlsx_max_bytes=_positive("SALESDW_XLSX_MAX_BYTES", str(XLSX_MAX_BYTES)),
        xlsx_max_cells=_positive("SALESDW_XLSX_MAX_CELLS", str(XLSX_MAX_CELLS)),
        max_line_bytes=_positive("SALESDW_MAX_LINE_BYTES", str(MAX_LINE_BYTES)),
    )


ENGINES = ("duckdb", "spark")


def _positive(variable: str, default: str) -> int:
    value = os.environ.get(variable) or default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{variable}={value!r}: expected a whole number of at least 1")
    return int(value)


def _engine(name: str) -> str:
    if name not in ENGINES:
        raise ValueError(f"SALESDW_ENGINE={name!r}: expected one of {', '.join(ENGINES)}")
    return name


@contextlib.contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """os.environ with overrides for the duration (dagster-dbt, for one, hands dbt its own environment)."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
