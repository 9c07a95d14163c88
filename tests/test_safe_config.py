"""Safe configuration: what a profile or a folder name can make the pipeline do, where secrets
come from, and that no log or error shows a connection password.

test_profile_validation.py covers the basic refusals (';', comments, subqueries, DELETE, '..' and
absolute file patterns); these are the ways around them.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from ingestion.loader import ingest
from ingestion.profile import ProfileError, load_profile
from orchestration.settings import PROJECT_ROOT, get_settings
from tests.test_profile_validation import VALID_OPPORTUNITIES as OPPORTUNITIES
from tests.test_profile_validation import write_profile


@pytest.mark.parametrize(
    "expr, refusal",
    [
        ("attach", "not a statement or query (found 'attach')"),
        ("install", "not a statement or query (found 'install')"),
        ("load", "not a statement or query (found 'load')"),
        ("pragma", "not a statement or query (found 'pragma')"),
        ("Stage || (copy)", "not a statement or query (found 'copy')"),
        ("checkpoint", "not a statement or query (found 'checkpoint')"),
        ("create", "not a statement or query (found 'create')"),
        ("Stage union all Stage", "not a statement or query (found 'union')"),
        # file-reading table functions cannot hide in a scalar expression
        ("read_text('/etc/passwd')", "invalid SQL expression"),
        ("read_csv('/etc/passwd')", "invalid SQL expression"),
        ("query('drop table x')", "invalid SQL expression"),
        # a function of an extension DuckDB would otherwise download and load at validation time
        ("sql_auto_complete(Stage)", "exists in the autocomplete extension"),
    ],
)
def test_expressions_cannot_run_statements_read_files_or_load_extensions(tmp_path, expr, refusal):
    path = write_profile(tmp_path, OPPORTUNITIES + f'      lost_reason: {{expr: "{expr}"}}\n')
    with pytest.raises(ProfileError) as failure:
        load_profile(path)
    message = str(failure.value)
    assert message.startswith(f"{path}: entities.opportunities.columns.lost_reason.expr: "), message
    assert refusal in message
    assert "automatically install" not in message


def test_a_function_of_an_extension_is_refused_without_downloading_the_extension(tmp_path):
    # `text()` lives in DuckDB's excel extension; by default DuckDB would fetch and load it (native
    # code from the network) to bind the expression.
    path = write_profile(tmp_path, OPPORTUNITIES + "      lost_reason: {expr: \"text(Stage, '0.0')\"}\n")
    with pytest.raises(ProfileError) as failure:
        load_profile(path)
    message = str(failure.value)
    assert "invalid SQL expression" in message and "exists in the excel extension" in message
    assert "install" not in message


def test_header_names_values_and_constants_are_data_never_sql(tmp_path):
    """Quotes, semicolons and SQL words in headers, value maps and constants are quoted, not run."""
    landing = tmp_path / "landing"
    landing.mkdir()
    nasty = 'Id"; drop table x; --'
    (landing / "deals.csv").write_text(
        f'"{nasty.replace(chr(34), chr(34) * 2)}",Owner,Stage\nK1,R1,won\'); drop table raw.orders; --\n',
        encoding="utf-8",
    )
    path = write_profile(
        tmp_path,
        f"""
        entities:
          opportunities:
            files: deals.csv
            columns:
              opportunity_id: '{nasty}'
              owner_rep_id: Owner
              stage:
                column: Stage
                values: {{"won'); drop table raw.orders; --": closed_won}}
              lost_reason: {{const: "it's; select 1"}}
    """,
    )
    (outcome,) = ingest(landing, load_profile(path), tmp_path / "raw", tmp_path / "quality").files
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 1)
    with duckdb.connect() as con:
        assert con.execute(
            f"select opportunity_id, stage, lost_reason from read_parquet('{tmp_path}/raw/opportunities/*.parquet')"
        ).fetchall() == [("K1", "closed_won", "it's; select 1")]


@pytest.mark.parametrize(
    "pattern",
    [
        "{entity}/../../secrets/*.csv",
        "*/../../*.csv",
        "~/exports/*.csv",
        "\\\\\\\\server\\\\share\\\\x.csv",
        "/root/*.csv",
    ],
)
def test_file_patterns_cannot_leave_the_landing_folder(tmp_path, pattern):
    path = write_profile(tmp_path, OPPORTUNITIES.replace('["deals*.csv"]', f'["{pattern}"]'))
    with pytest.raises(ProfileError, match=r"entities\.opportunities\.files: .*landing folder"):
        load_profile(path)


def test_a_symlinked_folder_leading_out_of_the_landing_folder_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere" / "teams"
    outside.mkdir(parents=True)
    (outside / "t.csv").write_text("team_id\nT_OUTSIDE\n")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "teams").symlink_to(outside, target_is_directory=True)
    assert ingest(landing, "canonical", tmp_path / "raw", tmp_path / "quality").files == []


def test_a_landing_folder_name_is_a_profile_name_never_a_path(tmp_path, monkeypatch):
    from orchestration.assets.ingestion import IngestConfig, landing_sources

    monkeypatch.chdir(tmp_path)  # `evil.yml` beside the working directory, outside the landing folder
    (tmp_path / "evil.yml").write_text("entities:\n  teams: {files: '../../*', columns_by_name: true}\n")
    landing = tmp_path / "data" / "landing"
    (landing / "canonical").mkdir(parents=True)
    (landing / ".hidden").mkdir()
    assert landing_sources(landing, IngestConfig()) == [(landing / "canonical", "canonical")]
    (landing / "evil.yml").mkdir()
    with pytest.raises(ProfileError, match=r"'evil.yml' is not a profile name"):
        landing_sources(landing, IngestConfig())


CONFIG_FILES = [
    "dbt_project/profiles.yml",
    "dbt_project/dbt_project.yml",
    "dagster.yaml",
    "pyproject.toml",
    "Makefile",
    *[p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / "ingestion" / "profiles").glob("*.yml")],
]


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_configuration_files_hold_no_secret(name):
    text = (PROJECT_ROOT / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.search(r"password|secret|token", line, re.I) and not line.lstrip().startswith("#"):
            assert re.search(r"env_var\(|\{env:|\$\{?[A-Z_]+", line), f"{name}: {line.strip()}"
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), f"{name} holds a URL with a password"


def test_the_postgres_url_comes_from_the_environment_and_repr_hides_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SALESDW_POSTGRES_URL", "postgresql://bi:Sup3r-s3cret@db.example:5432/sales")
    settings = get_settings(tmp_path)
    assert settings.postgres_url == "postgresql://bi:Sup3r-s3cret@db.example:5432/sales"
    assert "Sup3r-s3cret" not in repr(settings) and "Sup3r-s3cret" not in str(settings.dbt_env())
    monkeypatch.delenv("SALESDW_POSTGRES_URL")
    assert get_settings(tmp_path).postgres_url is None


def test_a_failing_postgres_publish_never_logs_the_password(monkeypatch, tmp_path, capfd):
    """The PostgreSQL step of a real Dagster run, against a server that is not there: every event
    Dagster records and everything printed names the database without the password."""
    import dagster as dg

    from orchestration.assets.serving import postgres_marts
    from orchestration.resources import SalesdwResource

    password = "Sup3r-s3cret-pw"
    monkeypatch.setenv("SALESDW_POSTGRES_URL", f"postgresql://salesdw:{password}@127.0.0.1:1/sales")
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    with duckdb.connect(str(settings.serving_warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.mart_demo as select 1 as id")
    result = dg.materialize(
        [postgres_marts], resources={"salesdw": SalesdwResource(data_dir=str(tmp_path))}, raise_on_error=False
    )
    assert not result.success
    recorded = "\n".join(str(event) for event in result.all_events)
    printed = capfd.readouterr()
    assert "postgresql://salesdw:***@127.0.0.1:1/sales" in recorded  # the failure is reported...
    for text in (recorded, printed.out, printed.err):
        assert password not in text  # ...without the password
