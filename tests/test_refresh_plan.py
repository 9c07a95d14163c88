"""orchestration/refresh.py: when a build is a full refresh and when it rebuilds only months, on
small raw zones written by hand."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.refresh import (
    commit_refresh,
    describe_last,
    fingerprint,
    parse_months,
    plan_refresh,
    read_state,
    request,
)
from orchestration.settings import get_settings
from tests.support import write_raw_batch

ORDER = {"account_id": "A1", "status": "completed"}


@pytest.fixture
def built(tmp_path):
    """A data dir with one orders batch (March 2025), as if a build had read it."""
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    write_raw_batch(settings.raw_dir, "orders", [{**ORDER, "order_id": "O1", "order_date": "2025-03-03"}])
    duckdb.connect(str(settings.build_warehouse)).close()  # an (empty) earlier build
    first = plan_refresh(settings, {})
    assert first.full and first.reasons == ["no earlier build"]
    commit_refresh(settings, first)
    assert read_state(settings.warehouse_dir)["latest_month"] == "2025-03"
    return settings


def test_new_orders_rebuild_their_months_and_asked_months_are_added(built):
    write_raw_batch(built.raw_dir, "orders", [{**ORDER, "order_id": "O2", "order_date": "2025-01-20"}])
    request(built.warehouse_dir, months=["2024-06"])
    request(built.warehouse_dir, months=["2024-07", "2024-06"])
    plan = plan_refresh(built, {})
    # January (the new order), March (the as_of month: the previous build's), the two asked for
    assert (plan.full, plan.months) == (False, ["2024-06", "2024-07", "2025-01", "2025-03"])
    commit_refresh(built, plan)
    assert describe_last(built.warehouse_dir) == (
        "Last build: rebuilt months 2024-06, 2024-07, 2025-01, 2025-03 (new batches: orders 1)"
    )
    assert plan_refresh(built, {}).months == []  # nothing new, the request was honoured


@pytest.mark.parametrize(
    "change, reason",
    [
        ("vars", "the dbt project or its vars changed"),
        ("full", "a full refresh was asked for (--full-refresh)"),
        ("warehouse", "no earlier build"),
    ],
)
def test_full_refresh_when_anything_but_new_batches_changed(built, change, reason):
    dbt_vars = {"as_of_date": "2025-03-31"} if change == "vars" else {}
    if change == "full":
        request(built.warehouse_dir, full=True)
    if change == "warehouse":
        built.build_warehouse.unlink()
    plan = plan_refresh(built, dbt_vars)
    assert plan.full and plan.reasons == [reason] and plan.months == []


def test_a_request_made_while_a_build_runs_outlives_that_build(built):
    """The build honours the requests its plan read; one made after (a CLI while dbt ran) stays."""
    request(built.warehouse_dir, months=["2024-06"])
    plan = plan_refresh(built, {})
    assert plan.months == ["2024-06"]
    request(built.warehouse_dir, months=["2024-09"])  # while dbt builds
    commit_refresh(built, plan)
    assert plan_refresh(built, {}).months == ["2024-09"]
    request(built.warehouse_dir, full=True)
    full = plan_refresh(built, {})
    request(built.warehouse_dir, months=["2024-10"])
    commit_refresh(built, full)
    after = plan_refresh(built, {})
    assert not after.full and after.months == ["2024-10"]


def test_a_build_leaves_no_months_for_a_dbt_build_run_by_hand(built):
    """control.rebuild_months is this build's: a later `dbt build` outside the pipeline must not
    rebuild only these months (without the table, every month is rebuilt)."""
    from orchestration.refresh import write_control

    built.build_warehouse.unlink()
    plan = plan_refresh(built, {})
    write_control(built, plan)
    with duckdb.connect(str(built.build_warehouse)) as con:
        con.execute("insert into control.rebuild_months values (date '2025-03-01')")
    commit_refresh(built, plan)
    with duckdb.connect(str(built.build_warehouse)) as con:
        assert con.execute("select count(*) from duckdb_tables() where schema_name = 'control'").fetchone() == (0,)


def test_the_fingerprint_follows_the_engine_versions(tmp_path, monkeypatch):
    from orchestration import refresh

    (tmp_path / "models").mkdir()
    before = fingerprint({}, "duckdb", tmp_path)
    installed = refresh._versions()
    assert installed["dbt-core"] and installed["duckdb"]
    monkeypatch.setattr(refresh, "_versions", lambda: {**installed, "duckdb": "0.0.1"})
    assert fingerprint({}, "duckdb", tmp_path) != before


def test_the_fingerprint_follows_the_project_files(tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.sql").write_text("select 1")
    before = fingerprint({}, "duckdb", project)
    assert fingerprint({}, "duckdb", project) == before and fingerprint({}, "spark", project) != before
    (project / "models" / "m.sql").write_text("select 2")
    assert fingerprint({}, "duckdb", project) != before


@pytest.mark.parametrize("text", ["2025-13", "2025-3", "march", ","])
def test_rebuild_months_must_be_year_and_month(text):
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_months(text)
    assert parse_months("2025-04, 2025-03,2025-04") == ["2025-03", "2025-04"]


def test_run_refuses_bad_rebuild_months_before_running(tmp_path):
    from typer.testing import CliRunner

    from orchestration.cli import app

    out = CliRunner().invoke(app, ["run", "--rebuild-months", "2025-3", "--data-dir", str(tmp_path)])
    assert out.exit_code != 0 and "give months as YYYY-MM" in out.output
    assert not (get_settings(tmp_path).warehouse_dir / "refresh_request.json").exists()


def test_full_refresh_when_a_new_batch_is_older_than_the_last_build(tmp_path):
    """The incremental staging models take the raw rows loaded after the newest they hold: a batch
    that turns up with an earlier load time (its id's leading timestamp) would be missed."""
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    write_raw_batch(
        settings.raw_dir,
        "orders",
        [{**ORDER, "order_id": "O1", "order_date": "2025-03-03"}],
        batch_id="20250401T000000000000-aaaaaaaa-orders",
    )
    duckdb.connect(str(settings.build_warehouse)).close()  # an (empty) earlier build
    commit_refresh(settings, plan_refresh(settings, {}))
    write_raw_batch(
        settings.raw_dir,
        "orders",
        [{**ORDER, "order_id": "O2", "order_date": "2025-03-04"}],
        batch_id="20250501T000000000000-bbbbbbbb-orders",
    )
    later = plan_refresh(settings, {})
    assert (later.full, later.months) == (False, ["2025-03"])
    write_raw_batch(
        settings.raw_dir,
        "orders",
        [{**ORDER, "order_id": "O3", "order_date": "2025-03-05"}],
        batch_id="20250301T000000000000-cccccccc-orders",
    )
    plan = plan_refresh(settings, {})
    assert plan.full and plan.reasons == ["a new batch is older than the newest the last build read"]
