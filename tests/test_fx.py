"""More than one currency: currency codes at ingestion, fx_rates in the profiles, the blocking
check naming the currency and month without a rate, and the multi-currency twin of a generated
company (`salesdw generate --currencies`) against its single-currency original within the stated
rounding bound. The conversion itself is pinned by the dbt unit test of stg_expenses."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from demo.currencies import FX_FILE, line_bound, write_currency_twin
from ingestion.loader import LOADED, ingest
from ingestion.profile import load_profile
from orchestration.quality.suites import load_suite


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def read_csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


ORDERS = [["order_id", "account_id", "rep_id", "opportunity_id", "order_date", "status", "channel", "currency"]] + [
    [f"SO{i:03}", "A1", "R1", "", f"2024-0{1 + i % 2}-{1 + i % 27:02}", "completed", "web", "CNY"] for i in range(40)
]
LINES = [["order_id", "line_number", "product_id", "quantity", "unit_price", "discount_amount"]] + [
    [f"SO{i:03}", "1", "P1", str(1 + i % 7), f"{13.37 * (i + 1):.2f}", "" if i % 3 else f"{i * 0.91:.2f}"]
    for i in range(40)
]
RETURNS = [["return_id", "order_id", "line_number", "return_date", "quantity", "refund_amount", "reason"]] + [
    [f"RT{i:03}", f"SO{i:03}", "1", "2024-02-27", "1", f"{7.77 * (i + 1):.2f}", "x"] for i in range(0, 40, 5)
]


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    root = tmp_path_factory.mktemp("fx")
    single, multi = root / "single" / "canonical", root / "multi" / "canonical"
    for entity, rows in (("orders", ORDERS), ("order_lines", LINES), ("returns", RETURNS)):
        write_csv(single / entity / f"{entity}.csv", rows)
    manifest = {
        "parameters": {"dirty": False},
        "period": {"first_date": "2024-01-01", "last_date": "2024-02-29"},
        "row_counts": {},
        "files": [{"entity": e, "file": f"{e}/{e}.csv"} for e in ("orders", "order_lines", "returns")],
    }
    (single / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copytree(single, multi)
    write_currency_twin(multi, ["CNY", "USD", "EUR"], seed=7)
    return single, multi


def rates_of(multi):
    return {(r["currency"], r["month"]): Decimal(r["rate_to_reporting"]) for r in read_csv(multi / FX_FILE)}


def back(value: str, rate: Decimal, places: str) -> Decimal:
    """Staging's to_reporting: amount x rate, rounded half away from zero to the column's decimals."""
    return (Decimal(value) * rate).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def test_orders_spread_over_the_currencies_with_a_rate_for_every_month(twin):
    _, multi = twin
    orders = read_csv(multi / "orders" / "orders.csv")
    assert {o["currency"] for o in orders} == {"CNY", "USD", "EUR"}
    rates = rates_of(multi)
    assert set(rates) == {(c, m) for c in ("USD", "EUR") for m in ("2024-01", "2024-02")}
    assert all(Decimal("0.5") < r < Decimal(10) for r in rates.values())


def test_twin_amounts_convert_back_within_the_stated_bound(twin):
    single, multi = twin
    rates = rates_of(multi)
    order_rate = {
        o["order_id"]: rates.get((o["currency"], o["order_date"][:7]), Decimal(1))
        for o in read_csv(multi / "orders" / "orders.csv")
    }
    total_diff = total_bound = Decimal(0)
    foreign = 0
    for mine, theirs in zip(
        read_csv(multi / "order_lines" / "order_lines.csv"), read_csv(single / "order_lines" / "order_lines.csv")
    ):
        rate, q = order_rate[mine["order_id"]], Decimal(mine["quantity"])
        foreign += rate != 1
        net = q * back(mine["unit_price"], rate, "0.0001") - back(mine["discount_amount"] or "0", rate, "0.01")
        twin_net = q * Decimal(theirs["unit_price"]) - Decimal(theirs["discount_amount"] or "0")
        bound = Decimal(str(line_bound(float(q), float(rate))))
        assert abs(net - twin_net) <= bound, (mine, theirs)
        total_diff += net - twin_net
        total_bound += bound
    assert foreign >= 10 and abs(total_diff) <= total_bound
    for mine, theirs in zip(read_csv(multi / "returns" / "returns.csv"), read_csv(single / "returns" / "returns.csv")):
        rate = order_rate[mine["order_id"]]
        assert abs(back(mine["refund_amount"], rate, "0.01") - Decimal(theirs["refund_amount"])) <= Decimal(
            "0.005"
        ) * rate + Decimal("0.005")


def test_the_twin_ingests_with_its_rates_and_nothing_quarantined(twin, tmp_path):
    _, multi = twin
    result = ingest(multi, "canonical", tmp_path / "raw", tmp_path / "quality")
    got = {f.entity: (f.status, f.rows_read, f.rows_quarantined) for f in result.files}
    assert got["fx_rates"] == (LOADED, 4, 0)
    assert got["orders"] == (LOADED, 40, 0) and got["order_lines"] == (LOADED, 40, 0)


def test_malformed_currency_code_is_a_row_error_and_a_foreign_one_loads(tmp_path):
    landing = tmp_path / "landing"
    write_csv(
        landing / "orders" / "o.csv",
        [ORDERS[0], ORDERS[1][:-1] + ["usd"], ORDERS[2][:-1] + ["USD"], ORDERS[3][:-1] + [""]],
    )
    (outcome,) = ingest(landing, "canonical", tmp_path / "raw", tmp_path / "quality").files
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 1)
    with duckdb.connect() as con:
        ((reason,),) = con.sql(f"select reason from read_parquet('{tmp_path}/quality/quarantine/*.parquet')").fetchall()
    assert reason == "currency: 'usd' is not an ISO 4217 code (three capital letters)"


def test_missing_rate_check_names_currency_month_and_rows():
    check = next(c for c in load_suite("staging") if c.name == "fx_rate_present")
    assert check.blocking and check.why and check.table == "staging.stg_fx_rates"
    with duckdb.connect() as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_orders as select * from (values ('EUR', date '2024-02-10', null), "
            "('EUR', date '2024-02-11', null), ('USD', date '2024-02-11', 7.1), ('CNY', date '2024-03-01', 1)) "
            "as t(currency, order_date, fx_rate)"
        )
        con.execute(
            "create table staging.stg_opportunities as select 'USD' as currency, date '2024-05-01' as close_date, "
            "timestamp '2024-01-01' as created_at, null as fx_rate"
        )
        con.execute(
            "create table staging.stg_expenses as"
            " select 'CNY' as currency, date '2024-01-01' as expense_date, 1 as fx_rate"
        )
        con.execute(
            "create table staging.stg_budgets as select 'CNY' as currency, date '2024-01-01' as month, 1 as fx_rate"
        )
        rows = sorted(r[0] for r in con.sql(check.query).fetchall())
    assert rows == ["EUR 2024-02: 2 orders without a rate", "USD 2024-05: 1 opportunities without a rate"]
    assert check.expectations[0].kwargs["value_set"] == ["none"]


@pytest.mark.parametrize("name", ["canonical", "crm_zh", "salesforce"])
def test_profiles_map_fx_rates(name):
    assert "fx_rates" in load_profile(name).entities


def test_salesforce_dated_conversion_rates_become_rates_to_the_corporate_currency(tmp_path):
    landing = tmp_path / "landing"
    write_csv(
        landing / "DatedConversionRate.csv",
        [
            ["Id", "IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
            ["04w1", "USD", "0.125", "2024-03-01", "2024-04-01"],
            ["04w2", "EUR", "0.1", "2024-04-01", "9999-12-31"],
        ],
    )
    (outcome,) = ingest(landing, "salesforce", tmp_path / "raw", tmp_path / "quality").files
    assert (outcome.status, outcome.rows_loaded) == (LOADED, 2)
    with duckdb.connect() as con:
        rows = con.sql(
            f"select strftime(month, '%Y-%m'), currency, rate_to_reporting "
            f"from read_parquet('{tmp_path}/raw/fx_rates/*.parquet') order by 1"
        ).fetchall()
    # 1 CNY (corporate) = 0.125 USD, so 1 USD = 8 CNY; 1 EUR = 10 CNY
    assert rows == [("2024-03", "USD", Decimal(8)), ("2024-04", "EUR", Decimal(10))]


@pytest.mark.parametrize(
    "currencies, message",
    [("CNY,usd", "'usd' is not an ISO 4217 code"), ("USD,EUR", "the reporting currency CNY must be one of them")],
)
def test_generate_refuses_bad_currencies_before_generating(tmp_path, currencies, message):
    from typer.testing import CliRunner

    from orchestration.cli import app

    out = CliRunner().invoke(
        app,
        ["generate", "--out", str(tmp_path / "x"), "--currencies", currencies],
        env={"SALESDW_DATA_DIR": str(tmp_path)},
        terminal_width=200,
    )
    assert out.exit_code == 2 and message in " ".join(out.output.replace("│", " ").split())  # rich wraps it in a box
    assert not (tmp_path / "x").exists()
