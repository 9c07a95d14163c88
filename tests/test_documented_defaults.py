"""The documented defaults are the defaults: every row of README.md's configuration table (the
environment variables) and of dbt_project/README.md's business-parameter table (the dbt vars, the
README's Configuration section points there) is compared, one default per test, with what the code
really uses: Settings with no SALESDW_* variable set, the dbt profile's fallbacks, and the vars of
dbt_project/dbt_project.yml. A default changed in one place only, or a setting left undocumented,
fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestration.dbt_launcher import warm_start_enabled
from orchestration.settings import DBT_PROJECT_DIR, get_settings

REPO = Path(__file__).resolve().parents[1]


def markdown_table(path: Path, first_header: str) -> dict[str, str]:
    """The table whose header row starts with `first_header`: first cell -> second cell, both
    without their backticks."""
    rows, inside = {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if not line.startswith("|"):
            if inside:
                break
            continue
        if cells and cells[0] == first_header:
            inside = True
        elif inside and not set(cells[0]) <= {"-", ":"}:
            rows[cells[0].strip("`")] = cells[1].strip("`")
    assert rows, f"no table headed {first_header!r} in {path}"
    return rows


ENV_TABLE = markdown_table(REPO / "README.md", "environment variable")
VARS_TABLE = markdown_table(DBT_PROJECT_DIR / "README.md", "var")
PROJECT_VARS = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
PROFILE = (DBT_PROJECT_DIR / "profiles.yml").read_text()


@pytest.fixture
def defaults(monkeypatch, tmp_path):
    """Settings as a fresh shell gets them: no SALESDW_* variable, started in tmp_path."""
    import os

    for name in [n for n in os.environ if n.startswith("SALESDW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return get_settings()


def profile_fallback(variable: str) -> str:
    """The default the dbt profile falls back to when `variable` is unset."""
    (found,) = set(re.findall(rf"env_var\('{variable}', '([^']*)'\)", PROFILE))
    return found


# What each documented environment variable's default means in the code (Settings and the profile).
ENV_DEFAULTS = {
    "SALESDW_DATA_DIR": ("./data", lambda s: s.data_dir == Path.cwd() / "data"),
    "SALESDW_AS_OF_DATE": (
        "derived from the data",
        lambda s: s.as_of_date is None and PROJECT_VARS["as_of_date"] is None,
    ),
    "SALESDW_CURRENCY": ("CNY", lambda s: s.reporting_currency == "CNY" == PROJECT_VARS["reporting_currency"]),
    "SALESDW_DUCKDB_MEMORY_LIMIT": (
        "1GB",
        lambda s: s.duckdb_memory_limit == "1GB" == profile_fallback("SALESDW_DUCKDB_MEMORY_LIMIT"),
    ),
    "SALESDW_DUCKDB_THREADS": (
        "2",
        lambda s: s.duckdb_threads == 2 and profile_fallback("SALESDW_DUCKDB_THREADS") == "2",
    ),
    "SALESDW_INGEST_PARALLEL_FILES": ("2", lambda s: s.ingest_parallel_files == 2),
    "SALESDW_POSTGRES_URL": ("unset", lambda s: s.postgres_url is None),
    "SALESDW_DBT_TARGET": (
        "duckdb",
        lambda s: s.dbt_env()["SALESDW_DBT_TARGET"] == "duckdb" == profile_fallback("SALESDW_DBT_TARGET"),
    ),
    "SALESDW_ENGINE": ("duckdb", lambda s: s.engine == "duckdb"),
    # read by the dbt launcher's warm start (orchestration/dbt_launcher.py), not Settings
    "SALESDW_DBT_WARM_START": ("1", lambda s: warm_start_enabled()),
    "SALESDW_SERVING_STORAGE_VERSION": ("v1.4.0", lambda s: s.serving_storage_version == "v1.4.0"),
    "SALESDW_FUTURE_DATE_HORIZON_DAYS": ("366", lambda s: s.future_date_horizon_days == 366),
    "SALESDW_XLSX_MAX_BYTES": ("134217728", lambda s: s.read_limits().xlsx_max_bytes == 128 * 2**20),
    "SALESDW_XLSX_MAX_CELLS": ("5000000", lambda s: s.read_limits().xlsx_max_cells == 5_000_000),
    "SALESDW_MAX_LINE_BYTES": ("2000000", lambda s: s.read_limits().max_line_bytes == 2_000_000),
    "SALESDW_SCHEDULE_CRON": ("0 6 * * *", lambda s: s.schedule_cron == "0 6 * * *"),
    "SALESDW_SCHEDULE_TIMEZONE": ("Asia/Shanghai", lambda s: s.schedule_timezone == "Asia/Shanghai"),
    # read by the alert sensor (orchestration/alerts.py), not Settings: unset means no alert channel
    "SALESDW_ALERT_WEBHOOK_URL": ("unset", lambda s: True),
    "SALESDW_UI_URL": ("unset", lambda s: True),
}
# Rows naming a family of variables (the alert e-mail's SMTP settings, Dagster's PostgreSQL
# storage) are pinned by the tests of what reads them (tests/test_alerts.py, test_dagster_instance.py).
SINGLE_ENV_TABLE = {name: value for name, value in ENV_TABLE.items() if "`" not in name}


def test_every_environment_variable_the_settings_read_is_documented():
    source = (REPO / "orchestration" / "settings.py").read_text()
    read = set(re.findall(r"os\.environ\.get\(\"(SALESDW_[A-Z_]+)\"", source))
    read |= set(re.findall(r"_positive\(\"(SALESDW_[A-Z_]+)\"", source))
    assert read <= set(SINGLE_ENV_TABLE)  # and SALESDW_DBT_TARGET, which the dbt profile reads
    assert set(SINGLE_ENV_TABLE) == set(ENV_DEFAULTS)


@pytest.mark.parametrize("variable", sorted(ENV_DEFAULTS))
def test_the_documented_default_of_each_environment_variable_is_the_codes(variable, defaults):
    documented, holds = ENV_DEFAULTS[variable]
    assert ENV_TABLE[variable] == documented, f"README.md documents {variable} = {ENV_TABLE[variable]!r}"
    assert holds(defaults), f"{variable}: the code's default is not the documented {documented!r}"


def test_every_dbt_var_is_documented():
    assert set(VARS_TABLE) == set(PROJECT_VARS)


# The business rules' defaults, pinned: changing one is a decision (this table, the project, its README).
DOCUMENTED_VARS = {
    "as_of_date": None,
    "reporting_currency": "CNY",
    "lifecycle_vip_share": 0.05,
    "lifecycle_inactive_days": 180,
    "lifecycle_new_days": 90,
    "lifecycle_loyal_orders_365d": 3,
    "service_first_response_sla_hours": 24,
    "budget_tolerance": 0.05,
    "fiscal_year_start_month": 1,
    "forecast_months_ahead": 2,
}


@pytest.mark.parametrize("var", sorted(DOCUMENTED_VARS))
def test_the_documented_default_of_each_dbt_var_is_the_projects(var):
    documented = yaml.safe_load(VARS_TABLE[var])
    assert documented == DOCUMENTED_VARS[var], f"dbt_project/README.md documents {var} = {documented!r}"
    assert PROJECT_VARS[var] == documented, f"dbt_project.yml sets {var} = {PROJECT_VARS[var]!r}"
