"""The multi-currency twin of the session's demo company (issue 20, "Done when"): the demo's exports
restated in CNY, USD and EUR (`write_currency_twin`, what `salesdw generate --currencies` writes)
go through `salesdw run`, and its marts equal the single-currency demo's.

Within the stated rounding bound (demo/currencies.py, `line_bound`): a revenue cell differs by at
most the sum of the bounds of the order lines (and of the returns) it adds up. The cells of
mart_team_kpi_monthly (month x team) and of mart_sales_by_product_monthly (month x product x channel
x region) each add up lines of one month (of one product), so the bound used here sums over every
foreign-currency line of that month (and product), and over every foreign-currency return: a
superset of the cell's rows, so a bound no smaller than the cell's own. Rows in the reporting
currency are not restated (difference 0).
Every other column (counts, units, deal amounts, targets, spend, survey scores) must be equal;
ratios computed from revenue (attainment, refund rate, growth, margin rate) follow it and are left out.
"""

import csv
import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from demo.currencies import FX_FILE, line_bound, write_currency_twin
from tests.conftest import DEMO_SEED, salesdw

REFUND_BOUND = (Decimal("0.005"), Decimal("0.005"))  # per return: 0.005 * rate + 0.005 (demo/currencies.py)
MARTS = {
    "mart_team_kpi_monthly": {
        "key": ["month", "team_id"],
        "revenue": {
            "gross_revenue": "lines",
            "refunds_amount": "returns",
            "net_revenue": "both",
            "net_revenue_prev_month": "both",
            "net_revenue_prev_year": "both",
        },
        "derived": {
            "revenue_attainment",
            "refund_rate",
            "spend_to_revenue_ratio",
            "revenue_growth_mom",
            "revenue_growth_yoy",
        },
    },
    "mart_sales_by_product_monthly": {
        "key": ["month", "product_id", "channel", "region"],
        "revenue": {
            "gross_amount": "lines",
            "discount_amount": "lines",
            "net_amount": "lines",
            "refunds_amount": "returns",
            "net_revenue": "both",
            "gross_margin": "both",
        },
        "derived": {"gross_margin_rate"},
    },
}


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def month_of(text: str) -> date:
    return date.fromisoformat(text[:10]).replace(day=1)


def bounds(twin: Path) -> dict[str, dict]:
    """Sums of the per-row bounds of the twin's foreign-currency order lines, by their order's month
    and by (month, product), and of all its foreign-currency returns (whichever month or product a
    mart gives a refund, it is among them)."""
    rates = {(r["currency"], r["month"]): float(r["rate_to_reporting"]) for r in rows(twin / FX_FILE)}
    orders = {
        o["order_id"]: (rates.get((o["currency"], o["order_date"][:7])), month_of(o["order_date"]))
        for o in rows(twin / "orders" / "orders.csv")
    }
    out = {"lines": defaultdict(float), "returns": 0.0}
    for line in rows(twin / "order_lines" / "order_lines.csv"):
        rate, month = orders[line["order_id"]]
        if rate is not None:  # a reporting-currency line is not restated
            bound = line_bound(float(line["quantity"]), rate)
            out["lines"][month] += bound
            out["lines"][(month, line["product_id"])] += bound
    for ret in rows(twin / "returns" / "returns.csv"):
        rate, _ = orders[ret["order_id"]]
        if rate is not None:
            out["returns"] += float(REFUND_BOUND[0]) * rate + float(REFUND_BOUND[1])
    return out


def cell_bound(sums: dict, kind: str, key) -> float:
    lines, returns = sums["lines"].get(key, 0.0), sums["returns"]
    return {"lines": lines, "returns": returns, "both": lines + returns}[kind]


def shifted(month: date, months: int) -> date:
    n = month.year * 12 + month.month - 1 - months
    return date(n // 12, n % 12 + 1, 1)


def table(warehouse: Path, name: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = con.sql(f"select * from marts.{name}")
        return [c[0] for c in result.description], result.fetchall()


def test_the_multi_currency_twin_gives_the_marts_of_the_single_currency_demo(demo_run, tmp_path):
    assert demo_run.exit_code == 0, demo_run.output
    data_dir = tmp_path / "data"
    twin = data_dir / "landing" / "canonical"
    shutil.copytree(demo_run.exports, twin)
    write_currency_twin(twin, ["CNY", "USD", "EUR"], seed=DEMO_SEED)
    currencies = {o["currency"] for o in rows(twin / "orders" / "orders.csv")}
    assert currencies == {"CNY", "USD", "EUR"}

    run = salesdw("run", data_dir=data_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    sums = bounds(twin)
    assert sum(sums["lines"][k] for k in sums["lines"] if isinstance(k, date)) > 0

    for name, spec in MARTS.items():
        columns, single = table(demo_run.warehouse, name)
        twin_columns, multi = table(data_dir / "warehouse" / "sales.duckdb", name)
        assert twin_columns == columns
        key = [columns.index(c) for c in spec["key"]]
        expected = {tuple(r[i] for i in key): r for r in single}
        got = {tuple(r[i] for i in key): r for r in multi}
        assert got.keys() == expected.keys(), name
        differed = 0
        for cell, row in got.items():
            month = cell[0]
            bound_key = month if name == "mart_team_kpi_monthly" else (month, cell[1])
            for i, column in enumerate(columns):
                mine, theirs = row[i], expected[cell][i]
                if column in spec["derived"]:
                    continue
                if column not in spec["revenue"]:
                    assert mine == theirs, (name, cell, column)
                    continue
                at = shifted(month, {"net_revenue_prev_month": 1, "net_revenue_prev_year": 12}.get(column, 0))
                bound = cell_bound(sums, spec["revenue"][column], at if bound_key == month else (at, cell[1]))
                assert (mine is None) == (theirs is None), (name, cell, column)
                if mine is not None:
                    assert abs(float(mine - theirs)) <= bound + 1e-9, (name, cell, column, mine, theirs, bound)
                    differed += mine != theirs
        assert differed > 0, f"{name}: no revenue cell differs at all, so the twin was not restated"
