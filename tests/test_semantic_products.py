"""The semantic layer's product dimensions (channel, product category, region, product) and its
revenue and margin metrics against mart_sales_by_product_monthly, on the session's demo build.

Each metric grouped by a new dimension must equal the mart's rows summed by pandas here, an empty
channel included as a group of its own; the margin rate divides the summed margin by the summed
revenue of the products with a unit cost, never averages the rows' rates.
"""

from __future__ import annotations

import pandas as pd

from orchestration.semantic_layer import run_query
from tests import test_semantic_layer
from tests.test_semantic_layer import _assert_same, _frame, _ratio

# the semantic layer over the session's demo build and a reader of its marts (pytest fixtures)
layer, mart = test_semantic_layer.layer, test_semantic_layer.mart

NULL = "∅"  # NULL as a group key both sides compare equal on
METRICS = ["product_net_revenue", "product_units_sold", "gross_margin", "gross_margin_rate"]


def _by_hand(sales: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    sales = sales.assign(costed_net_revenue=sales.net_revenue.where(sales.cost_amount.notna()))
    sums = (
        sales.fillna({k: NULL for k in keys})
        .groupby(keys)[["net_revenue", "units_sold", "gross_margin", "costed_net_revenue"]]
        .sum(min_count=1)
    )
    sums["gross_margin_rate"] = _ratio(sums.gross_margin, sums.costed_net_revenue, 1)
    return sums


def _query(layer, group_by: list[str]) -> pd.DataFrame:
    result = _frame(run_query(layer, METRICS, group_by))
    return result.fillna({k: NULL for k in group_by[1:]}).set_index(group_by)


def _months(sales: pd.DataFrame) -> pd.DataFrame:
    return sales.assign(month=pd.to_datetime(sales.month).dt.date)


def _compare(layer, mart, keys: list[str], group_by: list[str]) -> pd.DataFrame:
    expected = _by_hand(_months(mart("mart_sales_by_product_monthly")), keys)
    result = _query(layer, group_by)
    expected.index.names = result.index.names
    for metric, column in zip(METRICS, ["net_revenue", "units_sold", "gross_margin", "gross_margin_rate"]):
        _assert_same(expected[column].sort_index(), result[metric], f"{metric} by {group_by}")
    return expected


def test_product_metrics_equal_the_mart_at_its_grain(layer, mart):
    _compare(
        layer,
        mart,
        ["month", "product_id", "channel", "region"],
        ["metric_time__month", "product", "product_sale__channel", "product_sale__region"],
    )


def test_metrics_by_channel_include_the_empty_channel_and_divide_the_summed_parts(layer, mart):
    expected = _compare(layer, mart, ["month", "channel"], ["metric_time__month", "product_sale__channel"])
    channels = set(expected.index.get_level_values(1))
    assert len(channels - {NULL}) >= 3 and NULL in channels, "the demo sells through several channels, and none"
    # the rate of the summed parts is not the mean of the rows' rates: the test can tell them apart
    sales = _months(mart("mart_sales_by_product_monthly")).fillna({"channel": NULL})
    averaged = sales.groupby(["month", "channel"]).gross_margin_rate.mean()
    assert ((expected.gross_margin_rate.values - averaged.reindex(expected.index).values) ** 2 > 1e-12).any()


def test_metrics_by_product_category_and_quarter_equal_the_mart(layer, mart):
    _compare(layer, mart, ["month", "category"], ["metric_time__month", "product_sale__product_category"])
    sales = _months(mart("mart_sales_by_product_monthly"))
    sales["quarter"] = pd.to_datetime(sales.month).dt.to_period("Q").dt.start_time.dt.date
    expected = _by_hand(sales, ["quarter", "region"])
    result = _query(layer, ["metric_time__quarter", "product_sale__region"])
    expected.index.names = result.index.names
    _assert_same(expected.gross_margin_rate.sort_index(), result.gross_margin_rate, "gross_margin_rate by quarter")
