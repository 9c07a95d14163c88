"""The whole path on a small generated company: `salesdw generate` + `salesdw run` (the real CLI:
a Dagster job, a dbt build, the checks, the publish). Mart values are checked against numbers
computed here straight from the generated CSVs with pandas, independently of the SQL."""

from __future__ import annotations

from collections import Counter

import duckdb
import pandas as pd
import pytest

from ingestion.canonical import ENTITIES


def read_export(exports, entity: str) -> pd.DataFrame:
    folder = exports / entity
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]) for p in sorted(folder.glob("*.csv"))]
    return pd.concat(frames, ignore_index=True)


def marts(warehouse, sql: str, params=None):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def owner_on_order_date(orders: pd.DataFrame, accounts: pd.DataFrame) -> pd.Series:
    """Each order's account owner on its order date (exports.md): the account's row with the
    greatest valid_from <= order_date, before the first one the first; a row without valid_from is
    effective from the day its file landed, after every order. Dates are ISO text: they sort as text."""
    history = accounts.assign(start=accounts.valid_from.fillna("9999-12-31"))[["account_id", "start", "owner_rep_id"]]
    pairs = orders[["order_id", "account_id", "order_date"]].merge(history, on="account_id")
    pairs = pairs.sort_values(["order_id", "start"])
    then = pairs[pairs.start <= pairs.order_date].drop_duplicates("order_id", keep="last")
    first = pairs.drop_duplicates("order_id", keep="first")
    owner = first.set_index("order_id").owner_rep_id
    owner.update(then.set_index("order_id").owner_rep_id)
    return orders.order_id.map(owner)


@pytest.fixture(scope="module")
def completed_sales(demo_run) -> pd.DataFrame:
    """Net revenue per (rep, month) from the CSVs: completed lines minus refunds in the month of return."""
    orders = read_export(demo_run.exports, "orders")
    lines = read_export(demo_run.exports, "order_lines")
    returns = read_export(demo_run.exports, "returns")
    accounts = read_export(demo_run.exports, "accounts")
    orders = orders[orders.status == "completed"].copy()
    orders["rep"] = orders.rep_id.fillna(owner_on_order_date(orders, accounts))
    lines["net"] = lines.quantity.astype(float) * lines.unit_price.astype(float) - lines.discount_amount.fillna(
        "0"
    ).astype(float)
    sold = lines.merge(orders[["order_id", "rep", "order_date"]], on="order_id")
    sold["month"] = sold.order_date.str[:7]
    gross = sold.groupby(["rep", "month"]).net.sum()
    refunds = returns.merge(orders[["order_id", "rep"]], on="order_id")
    refunds["month"] = refunds.return_date.str[:7]
    refunded = refunds.groupby(["rep", "month"]).refund_amount.apply(lambda s: s.astype(float).sum())
    out = pd.concat([gross.rename("gross"), refunded.rename("refunds")], axis=1).fillna(0.0)
    out["net"] = out.gross - out.refunds
    return out


def test_demo_run_succeeds_and_publishes(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-4000:]
    assert demo_run.warehouse.exists()
    assert "Published" in demo_run.output


def test_every_generated_row_is_accounted_for_in_the_ledger(demo_run):
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        ledger = con.execute(
            "select entity, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
            "from quality.ingestion_ledger where status = 'loaded' group by entity"
        ).fetchall()
    by_entity = {e: (read, loaded, quarantined) for e, read, loaded, quarantined in ledger}
    for entity in ENTITIES:
        folder = demo_run.exports / entity
        if entity in ("budgets", "targets"):
            expected = sum(len(pd.read_excel(p)) for p in folder.glob("*.xlsx"))
        else:
            expected = len(read_export(demo_run.exports, entity))
        read, loaded, quarantined = by_entity[entity]
        assert read == expected, entity
        assert loaded + quarantined == read, entity
        assert quarantined == 0, f"clean demo data should not quarantine {entity}"


def test_rep_month_net_revenue_matches_the_csvs(demo_run, completed_sales):
    # The three busiest rep-months and the total, each recomputed from the raw CSVs.
    busiest = completed_sales.sort_values("gross", ascending=False).head(3)
    for (rep, month), row in busiest.iterrows():
        [(net, gross, refunds)] = marts(
            demo_run.warehouse,
            "select net_revenue, gross_revenue, refunds_amount from marts.mart_rep_kpi_monthly "
            "where rep_id = ? and strftime(month, '%Y-%m') = ?",
            [rep, month],
        )
        assert float(gross) == pytest.approx(row.gross, abs=0.01)
        assert float(refunds) == pytest.approx(row.refunds, abs=0.01)
        assert float(net) == pytest.approx(row.net, abs=0.01)
    [(total,)] = marts(demo_run.warehouse, "select sum(net_revenue) from marts.mart_rep_kpi_monthly")
    assert float(total) == pytest.approx(completed_sales.net.sum(), abs=0.05)


def test_win_rate_is_by_count_and_matches_the_csvs(demo_run):
    opps = read_export(demo_run.exports, "opportunities")
    # latest version per opportunity (later rows are newer versions)
    opps = opps.drop_duplicates("opportunity_id", keep="last")
    closed = opps[opps.stage.isin(["closed_won", "closed_lost"]) & opps.close_date.notna()].copy()
    closed["month"] = closed.close_date.str[:7]
    per = closed.groupby(["owner_rep_id", "month"]).stage.agg(
        won=lambda s: (s == "closed_won").sum(), lost=lambda s: (s == "closed_lost").sum()
    )
    per = per[(per.won > 0) & (per.lost > 0)].sort_values("won", ascending=False).head(3)
    assert len(per) > 0, "the demo data should have rep-months with both won and lost deals"
    for (rep, month), row in per.iterrows():
        [(won, lost, rate)] = marts(
            demo_run.warehouse,
            "select opportunities_won, opportunities_lost, win_rate from marts.mart_rep_kpi_monthly "
            "where rep_id = ? and strftime(month, '%Y-%m') = ?",
            [rep, month],
        )
        assert (won, lost) == (row.won, row.lost)
        assert float(rate) == pytest.approx(row.won / (row.won + row.lost))


def test_one_row_per_opportunity(demo_run):
    opps = read_export(demo_run.exports, "opportunities")
    [(rows, distinct)] = marts(
        demo_run.warehouse, "select count(*), count(distinct opportunity_id) from marts.fct_opportunities"
    )
    assert rows == distinct == opps.opportunity_id.nunique()


def test_all_six_lifecycle_stages_are_present(demo_run):
    stages = {s for (s,) in marts(demo_run.warehouse, "select distinct lifecycle_stage from marts.dim_customers")}
    assert stages == {"prospect", "new", "active", "loyal", "vip", "inactive"}


def dagster_check_evaluations(data_dir) -> tuple[str, list[tuple]]:
    """The latest Dagster run in data_dir/dagster and its asset-check evaluations, as
    (asset, check name, passed, severity), read from the run's event log."""
    import dagster as dg

    from orchestration.settings import environment

    home = str(data_dir / "dagster")
    with environment({"DAGSTER_HOME": home}), dg.DagsterInstance.from_config(home) as instance:
        (run,) = instance.get_runs(limit=1)
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        evaluations = [e.dagster_event.event_specific_data for e in events]
    return run.run_id, [
        (e.asset_key.to_user_string(), e.check_name, e.passed, e.severity.value.lower()) for e in evaluations
    ]


def step_windows(data_dir) -> tuple[str, dict[str, tuple[float, float]]]:
    """The latest Dagster run in data_dir/dagster and each of its steps' (start, end) times, from
    STEP_START to STEP_SUCCESS or STEP_FAILURE in the run's event log."""
    import dagster as dg

    from orchestration.settings import environment

    home = str(data_dir / "dagster")
    started: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    with environment({"DAGSTER_HOME": home}), dg.DagsterInstance.from_config(home) as instance:
        (run,) = instance.get_runs(limit=1)
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            if event.event_type_value == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
                windows[event.step_key] = (started[event.step_key], entry.timestamp)
    return run.run_id, windows


def test_published_check_history_is_the_runs_own_check_by_check(demo_run):
    """The quality history in the serving file, the run's stored results and the checks Dagster
    evaluated in the run are the same checks with the same outcomes (dbt's tests and the freshness
    checks are asset checks too, but the results store keeps the suites' checks only)."""
    import json

    from orchestration.dbt_manifest import ensure_manifest
    from orchestration.quality import results_store

    run_id, evaluations = dagster_check_evaluations(demo_run.data_dir)
    manifest = json.loads(ensure_manifest().read_text())
    # not the suites': dbt's tests, Dagster's freshness checks of the marts (definitions.py) and
    # dbt source freshness of the raw zone (orchestration/source_freshness.py)
    others = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"} | {
        "freshness_check",
        "source_freshness",
    }
    suites = Counter(e for e in evaluations if e[1] not in others)
    stored = results_store.read(demo_run.data_dir / "quality")
    stored = stored[stored.run_id == run_id]
    in_store = Counter(zip(stored.asset, stored.check_name, stored.passed.astype(bool), stored.severity))
    published = Counter(
        marts(
            demo_run.warehouse,
            "select asset, check_name, passed, severity from quality.check_results where run_id = ?",
            [run_id],
        )
    )
    [(runs,)] = marts(demo_run.warehouse, "select count(distinct run_id) from quality.check_results")
    assert runs == 1  # the demo's only run
    assert {layer for layer in stored.layer} == {"raw", "staging", "marts"}
    assert len(suites) > 100 and set(suites.values()) == {1}  # each check evaluated once in the run
    assert published == in_store == suites


def test_the_raw_suite_ran_during_the_build_and_was_reported_before_the_publish(demo_run):
    from datetime import timezone

    from orchestration.quality import results_store
    from orchestration.quality.suites import load_suite

    run_id, windows = step_windows(demo_run.data_dir)
    build_started, build_ended = windows["dbt_warehouse"]
    reported, _ = windows["raw_quality_checks"]
    published, _ = windows["serving__sales_warehouse"]
    assert build_ended <= reported <= published
    suite = {(c.asset, c.name) for c in load_suite("raw")}
    stored = results_store.read(demo_run.data_dir / "quality")
    raw = stored[(stored.run_id == run_id) & (stored.layer == "raw")]
    raw = raw[[(a, c) in suite for a, c in zip(raw.asset, raw.check_name)]]
    assert len(raw) == len(suite)
    checked = {t.replace(tzinfo=timezone.utc).timestamp() for t in raw.checked_at}
    assert all(t > build_started for t in checked)  # audited after the build started, not before it
    # and on its own file beside the build, not on the built warehouse: there the reference date
    # would have come from intermediate.int_calendar
    dates = raw[raw.check_name == "dates_not_in_future"].details
    assert len(dates) > 5 and all("(latest event in raw)" in d for d in dates), list(dates)
