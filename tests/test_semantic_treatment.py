"""The semantic layer's customer_treatment model: the treatment-rate and order-rate metrics against
mart_customer_treatment_monthly, on the session's demo build. At the mart's grain a metric equals
the mart's own ratio; at (month, team) it divides the counts summed over the stages by pandas here,
never averages the stages' rates."""

from __future__ import annotations

import pandas as pd

from orchestration.semantic_layer import run_query
from tests import test_semantic_layer
from tests.test_semantic_layer import _assert_same, _frame, _ratio

# the semantic layer over the session's demo build and a reader of its marts (pytest fixtures)
layer, mart = test_semantic_layer.layer, test_semantic_layer.mart

METRICS = {
    "treatment_rate": ("treated_customers", "customers"),
    "order_rate_treated": ("ordered_treated", "treated_customers"),
    "order_rate_untreated": ("ordered_untreated", "untreated_customers"),
}


def _treatment(mart) -> pd.DataFrame:
    frame = mart("mart_customer_treatment_monthly").dropna(subset=["team_id"])
    return frame.assign(month=pd.to_datetime(frame.month).dt.date)


def _query(layer, group_by: list[str]) -> pd.DataFrame:
    return _frame(run_query(layer, list(METRICS), group_by)).dropna(subset=["team"]).set_index(group_by)


def test_treatment_metrics_equal_the_mart_at_its_grain(layer, mart):
    expected = _treatment(mart).set_index(["month", "team_id", "lifecycle_stage"])
    result = _query(layer, ["metric_time__month", "team", "customer_treatment__lifecycle_stage"])
    for metric in METRICS:
        _assert_same(expected[metric].sort_index(), result[metric], metric)


def test_treatment_rate_at_month_and_team_divides_the_summed_counts(layer, mart):
    treatment = _treatment(mart)
    sums = treatment.groupby(["month", "team_id"])[["customers", "treated_customers"]].sum()
    by_hand = _ratio(sums.treated_customers, sums.customers, 1)
    result = _query(layer, ["metric_time__month", "team"])
    _assert_same(by_hand, result["treatment_rate"], "treatment_rate by month and team")
    # the mean of the stages' rates is another number: the test can tell them apart
    averaged = treatment.groupby(["month", "team_id"]).treatment_rate.mean()
    assert ((by_hand - averaged).abs() > 1e-6).any()
    assert by_hand.notna().sum() >= 10
