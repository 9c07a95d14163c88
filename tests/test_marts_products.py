"""mart_sales_by_product_monthly and mart_loss_reasons_monthly against the demo company's CSVs:
a few cells recomputed here with pandas from the generated exports (the session's demo build,
no build of its own). Hand-made traps (a product without unit cost, a NULL channel, a NULL reason)
are the dbt unit tests beside the models."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.test_end_to_end import marts, read_export


@pytest.fixture(scope="module")
def product_sales(demo_run) -> pd.DataFrame:
    """Per (month, product, channel, region) from the CSVs: completed lines' units and net amount,
    the refunds dated in the month on those lines, and the cost from the product's unit_cost."""
    orders = read_export(demo_run.exports, "orders").drop_duplicates("order_id", keep="last")
    orders = orders[orders.status == "completed"]
    lines = read_export(demo_run.exports, "order_lines")
    returns = read_export(demo_run.exports, "returns")
    accounts = read_export(demo_run.exports, "accounts")
    accounts = accounts.sort_values("valid_from", kind="stable", na_position="first")
    region = accounts.drop_duplicates("account_id", keep="last").set_index("account_id").region
    products = read_export(demo_run.exports, "products").set_index("product_id")
    orders = orders.assign(region=orders.account_id.map(region))[["order_id", "channel", "region", "order_date"]]
    sold = lines.merge(orders, on="order_id")
    sold["month"] = sold.order_date.str[:7]
    sold["units"] = sold.quantity.astype(float)
    sold["net"] = sold.units * sold.unit_price.astype(float) - sold.discount_amount.fillna("0").astype(float)
    keys = ["month", "product_id", "channel", "region"]
    out = sold.groupby(keys, dropna=False).agg(
        units=("units", "sum"), net=("net", "sum"), orders=("order_id", "nunique")
    )
    refunds = returns.merge(orders, on="order_id").merge(
        lines[["order_id", "line_number", "product_id"]], on=["order_id", "line_number"]
    )
    refunds["month"] = refunds.return_date.str[:7]
    refunds["refund"] = refunds.refund_amount.astype(float)
    out = out.join(refunds.groupby(keys, dropna=False).refund.sum(), how="outer").fillna(0.0)
    unit_cost = products.unit_cost.astype(float)
    out["cost"] = out.units * out.index.get_level_values("product_id").map(unit_cost)
    return out


def _mart_row(demo_run, month: str, product: str, channel: str, region: str) -> tuple:
    [row] = marts(
        demo_run.warehouse,
        """
        select units_sold, net_amount, orders_count, refunds_amount, cost_amount, gross_margin, gross_margin_rate
        from marts.mart_sales_by_product_monthly
        where strftime(month, '%Y-%m') = ? and product_id = ? and channel is not distinct from ? and region = ?""",
        [month, product, None if pd.isna(channel) else channel, region],
    )
    return tuple(None if v is None else float(v) for v in row)


def test_busiest_product_cells_match_the_csvs(demo_run, product_sales):
    refunded = product_sales[product_sales.refund > 0].sort_values("net", ascending=False).head(1)
    uncosted = product_sales[product_sales.cost.isna()].sort_values("net", ascending=False).head(1)
    no_channel = product_sales[product_sales.index.get_level_values("channel").isna()].nlargest(1, "net")
    cells = pd.concat([product_sales.nlargest(2, "net"), refunded, uncosted, no_channel])
    assert len(cells) == 5, "the demo sells a product without a unit cost, and an order without a channel"
    for (month, product, channel, region), row in cells.iterrows():
        units, net, orders, refunds, cost, margin, rate = _mart_row(demo_run, month, product, channel, region)
        assert (units, orders) == (row.units, row.orders)
        assert net == pytest.approx(row.net, abs=0.01)
        assert refunds == pytest.approx(row.refund, abs=0.01)
        if pd.isna(row.cost):  # a product without a unit cost: revenue, but no cost and no margin
            assert (cost, margin, rate) == (None, None, None)
            continue
        assert cost == pytest.approx(row.cost, abs=0.01)
        assert margin == pytest.approx(row.net - row.refund - row.cost, abs=0.02)
        assert rate == pytest.approx((row.net - row.refund - row.cost) / (row.net - row.refund), abs=1e-6)


def test_monthly_totals_match_the_csvs_and_the_demo_sells_through_several_channels(demo_run, product_sales):
    expected = product_sales.groupby("month")[["net", "refund"]].sum()
    actual = dict(
        marts(
            demo_run.warehouse,
            """
        select strftime(month, '%Y-%m'), sum(net_revenue) from marts.mart_sales_by_product_monthly group by 1""",
        )
    )
    assert sorted(actual) == sorted(expected.index)
    for month, row in expected.iterrows():
        assert float(actual[month]) == pytest.approx(row.net - row.refund, abs=0.05), month
    channels = product_sales.index.get_level_values("channel")
    assert channels.dropna().nunique() >= 3 and channels.isna().any()  # an empty channel too
    products = read_export(demo_run.exports, "products")
    assert products.unit_cost.isna().any() and (products.unit_cost.dropna().astype(float) > 0).all()


def test_lost_deals_per_month_and_reason_match_the_csvs(demo_run):
    opps = read_export(demo_run.exports, "opportunities").drop_duplicates("opportunity_id", keep="last")
    lost = opps[(opps.stage == "closed_lost") & opps.close_date.notna()].copy()
    lost["month"] = lost.close_date.str[:7]
    lost["amount"] = lost.amount.fillna("0").astype(float)
    expected = lost.groupby(["month", "lost_reason"], dropna=False).agg(n=("amount", "size"), amount=("amount", "sum"))
    assert lost.lost_reason.nunique() >= 4  # a handful of reasons
    # summed over teams: the team of the month is the attribution's business, the deals are not
    actual = {
        (m, r): (n, float(a))
        for m, r, n, a in marts(
            demo_run.warehouse,
            """
        select strftime(month, '%Y-%m'), lost_reason, sum(lost_count), sum(lost_amount)
        from marts.mart_loss_reasons_monthly group by 1, 2""",
        )
    }
    assert len(actual) == len(expected)
    for (month, reason), row in expected.iterrows():
        n, amount = actual[(month, None if pd.isna(reason) else reason)]
        assert n == row.n
        assert amount == pytest.approx(row.amount, abs=0.01)
