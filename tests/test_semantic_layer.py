"""The semantic layer (dbt_project/models/semantic/, orchestration/semantic_layer.py) on the session's
published demo warehouse: every metric equals its mart column at the mart's own grain, and the ratio
metrics roll up to quarters and regions as sum(numerator) / sum(denominator), which on this data
differs from the average of the monthly ratios (so a metric that averaged would fail here)."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest

from orchestration.semantic_layer import run_query, semantic_layer

# metric -> the mart column it must equal at (month, team)
TEAM_METRICS = {
    "net_revenue": "net_revenue",
    "orders_count": "orders_count",
    "units_sold": "units_sold",
    "active_customers": "active_customers",
    "win_rate": "win_rate",
    "avg_deal_size": "avg_deal_size",
    "revenue_attainment": "revenue_attainment",
    "new_customers_attainment": "new_customers_attainment",
    "visits_attainment": "visits_attainment",
    "nps": "nps",
    "csat_rate": "csat_rate",
    "complaints_opened": "complaints_opened",
    "complaints_per_100_orders": "complaints_per_100_orders",
    "refund_rate": "refund_rate",
}
# ratio metric -> (numerator, denominator, scale) over mart_team_kpi_monthly's columns
TEAM_RATIOS = {
    "win_rate": ("opportunities_won", "opportunities_closed", 1),
    "avg_deal_size": ("won_amount", "opportunities_won", 1),
    "revenue_attainment": ("net_revenue", "revenue_target", 1),
    "csat_rate": ("csat_satisfied", "csat_responses", 1),
    "nps": ("nps_net", "nps_responses", 100),
    "complaints_per_100_orders": ("complaints_opened", "orders_count", 100),
    "refund_rate": ("refunds_amount", "gross_revenue", 1),
}


@pytest.fixture(scope="module")
def layer(demo_run):
    assert demo_run.exit_code == 0, demo_run.output
    with semantic_layer(demo_run.warehouse) as engine:
        yield engine


@pytest.fixture(scope="module")
def mart(demo_run):
    def read(table: str) -> pd.DataFrame:
        with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
            return con.execute(f"select * from marts.{table}").df()

    return read


def _frame(result) -> pd.DataFrame:
    frame = pd.DataFrame(result.rows, columns=result.columns)
    for col in frame.columns:
        if col.startswith("metric_time__"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
    return frame


def _assert_same(expected: pd.Series, actual: pd.Series, label: str) -> None:
    assert len(expected) == len(actual) and len(expected) > 0, label
    for key, want in expected.items():
        got = actual[key]
        if pd.isna(want):
            assert pd.isna(got), f"{label} {key}: metric {got}, mart NULL"
        else:
            assert math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=0.006), f"{label} {key}: {got} != {want}"


def _compare(layer, mart_frame, keys, group_by, metrics: dict[str, str]) -> None:
    # the mart rows without a month (a funnel cohort without a created date) have no metric_time
    result = _frame(run_query(layer, list(metrics), group_by)).dropna(subset=[group_by[0]])
    result = result.set_index(group_by)
    mart_frame = mart_frame.dropna(subset=[keys[0]])
    mart_frame = mart_frame.assign(
        **{k: pd.to_datetime(mart_frame[k]).dt.date for k in keys if k.endswith("month") or k.endswith("date")}
    )
    expected = mart_frame.set_index(keys)
    for metric, column in metrics.items():
        _assert_same(expected[column].sort_index(), result[metric], metric)


def test_team_metrics_equal_the_team_mart_at_month_and_team(layer, mart):
    _compare(layer, mart("mart_team_kpi_monthly"), ["month", "team_id"], ["metric_time__month", "team"], TEAM_METRICS)


def test_other_metrics_equal_their_marts_at_the_mart_grain(layer, mart):
    _compare(
        layer,
        mart("mart_funnel_monthly"),
        ["cohort_month", "team_id", "stage"],
        ["metric_time__month", "team", "stage_funnel__stage"],
        {"stage_conversion_rate": "stage_conversion_rate"},
    )
    _compare(
        layer,
        mart("mart_lead_funnel_monthly"),
        ["cohort_month", "lead_source"],
        ["metric_time__month", "lead_funnel__lead_source"],
        {
            "lead_qualification_rate": "qualification_rate",
            "lead_conversion_rate": "conversion_rate",
            "lead_to_win_rate": "lead_to_win_rate",
        },
    )
    _compare(
        layer,
        mart("mart_budget_vs_actual"),
        ["month", "team_id", "category"],
        ["metric_time__month", "team", "budget_line__category"],
        {"budget_utilization": "utilization", "budget_variance": "variance", "budget_variance_pct": "variance_pct"},
    )
    _compare(
        layer,
        mart("mart_pipeline_forecast"),
        ["close_month", "team_id"],
        ["metric_time__month", "team"],
        {"forecast_amount": "forecast_amount", "coverage_ratio": "coverage_ratio"},
    )
    _compare(
        layer,
        mart("mart_forecast_accuracy"),
        ["close_month", "team_id", "horizon_months"],
        ["metric_time__month", "team", "forecast_accuracy__horizon_months"],
        {"forecast_error": "error", "forecast_abs_pct_error": "abs_pct_error"},
    )
    _compare(
        layer,
        mart("mart_lifecycle_monthly"),
        ["month", "lifecycle_stage"],
        ["metric_time__month", "lifecycle__lifecycle_stage"],
        {"lifecycle_customers": "customers"},
    )
    _compare(
        layer,
        mart("mart_rep_kpi_monthly"),
        ["month", "rep_id"],
        ["metric_time__month", "rep"],
        {
            "rep_net_revenue": "net_revenue",
            "rep_win_rate": "win_rate",
            "rep_complaints_per_100_orders": "complaints_per_100_orders",
            "rep_refund_rate": "refund_rate",
        },
    )


def _ratio(num: pd.Series, den: pd.Series, scale: float) -> pd.Series:
    return (num.astype(float) / den.astype(float).where(den != 0)) * scale


def test_ratio_metrics_at_quarter_and_region_divide_the_summed_parts(layer, mart):
    team = mart("mart_team_kpi_monthly")
    team["nps_net"] = team["nps_promoters"] - team["nps_detractors"]
    team["quarter"] = pd.to_datetime(team["month"]).dt.to_period("Q").dt.start_time.dt.date
    sums = team.groupby(["quarter", "region"]).sum(numeric_only=True, min_count=1)
    result = _frame(run_query(layer, list(TEAM_RATIOS), ["metric_time__quarter", "team_kpi__region"]))
    result = result.set_index(["metric_time__quarter", "team_kpi__region"])
    for metric, (num, den, scale) in TEAM_RATIOS.items():
        by_hand = _ratio(sums[num], sums[den], scale)
        _assert_same(by_hand, result[metric], metric)
        # the average of the team-months' ratios: what a dashboard that averages would show
        monthly = team.assign(r=_ratio(team[num], team[den], scale)).groupby(["quarter", "region"])["r"].mean()
        differs = (by_hand - monthly).abs() > 1e-6
        assert differs.any(), f"{metric}: the fixture cannot tell a sum of parts from an average of ratios"


def test_stage_conversion_and_budget_utilisation_roll_up_from_their_parts(layer, mart):
    funnel = mart("mart_funnel_monthly").dropna(subset=["cohort_month"])
    funnel["quarter"] = pd.to_datetime(funnel["cohort_month"]).dt.to_period("Q").dt.start_time.dt.date
    sums = funnel.groupby(["quarter", "stage"]).sum(numeric_only=True, min_count=1)
    by_hand = _ratio(sums["opportunities_advanced"], sums["opportunities_reached"], 1)
    result = _frame(run_query(layer, ["stage_conversion_rate"], ["metric_time__quarter", "stage_funnel__stage"]))
    result = result.dropna(subset=["metric_time__quarter"]).set_index(["metric_time__quarter", "stage_funnel__stage"])
    _assert_same(by_hand, result["stage_conversion_rate"], "stage_conversion_rate")
    averaged = funnel.groupby(["quarter", "stage"])["stage_conversion_rate"].mean()
    assert ((by_hand - averaged).abs() > 1e-6).any()
    budget = mart("mart_budget_vs_actual")
    budget["quarter"] = pd.to_datetime(budget["month"]).dt.to_period("Q").dt.start_time.dt.date
    sums = budget.groupby(["quarter", "category"]).sum(numeric_only=True, min_count=1)
    by_hand = _ratio(sums["actual_amount"], sums["budget_amount"], 1)
    result = _frame(run_query(layer, ["budget_utilization"], ["metric_time__quarter", "budget_line__category"]))
    _assert_same(
        by_hand,
        result.set_index(["metric_time__quarter", "budget_line__category"])["budget_utilization"],
        "budget_utilization",
    )
