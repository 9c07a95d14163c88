"""The report's "Products and channels" and "Deals going cold" sections, and the zh page's chart titles.

The fixture warehouse holds a few hand-made rows of mart_sales_by_product_monthly and of
fct_opportunities with its engagement columns; the expected figures below are worked out by hand
from those rows (comments give the sums). Both languages are rendered in headless Chromium.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.serving.labels import LABELS
from orchestration.serving.report import load_report_data, write_report
from orchestration.serving.report_cold_deals import owner_rows
from orchestration.serving.report_products import channel_mix_rows, product_rows
from tests.support import needs_chromium, render_report_pages, write_report_pages
from tests.test_report import MART_COLUMNS, Page, make_fixture_warehouse

AS_OF = date(2025, 3, 15)  # the last full month is February: products are summed 2024-03 .. 2025-02

PRODUCT_COLUMNS = """month date, product_id varchar, channel varchar, region varchar, product_name varchar,
    category varchar, orders_count bigint, customers bigint, units_sold decimal(18,4), gross_amount decimal(18,2),
    discount_amount decimal(18,2), net_amount decimal(18,2), refunds_amount decimal(18,2),
    net_revenue decimal(18,2), cost_amount decimal(18,2), gross_margin decimal(18,2), gross_margin_rate double"""
# month, product, channel, region, name, category, units, net_revenue, cost_amount
PRODUCT_SALES = [
    (date(2025, 2, 1), "P1", "online", "East", "Pen", "office", 10, "100.00", "40.00"),
    (date(2025, 2, 1), "P1", None, "East", "Pen", "office", 5, "50.00", "20.00"),  # NULL channel
    (date(2025, 1, 1), "P2", "store", "West", "Desk", "furniture", 2, "400.00", None),  # no unit cost
    (date(2025, 2, 1), "P3", "online", "East", "Lamp", "office", 4, "80.00", "100.00"),  # sold at a loss
    (date(2025, 2, 1), None, None, "East", None, None, 0, "-10.00", None),  # refund of an unknown line
    (date(2025, 3, 1), "P1", "online", "East", "Pen", "office", 100, "9999.00", "400.00"),  # after February
    (date(2024, 2, 1), "P3", "online", "East", "Lamp", "office", 50, "5000.00", "1250.00"),  # before the window
]
# In the window: P2 400.00 (cost unknown); P1 100.00 + 50.00 = 150.00, cost 60.00, margin 90.00 (60 %);
# P3 80.00, cost 100.00, margin −20.00 (−25 %); the unknown product −10.00. All products: 620.00.
EXPECTED_PRODUCTS = [
    ("P2", "Desk", Decimal("400.00"), None, None),
    ("P1", "Pen", Decimal("150.00"), Decimal("90.00"), 0.6),
    ("P3", "Lamp", Decimal("80.00"), Decimal("-20.00"), -0.25),
    ("", "Unknown product", Decimal("-10.00"), None, None),
]
TOTAL_REVENUE = Decimal("620.00")
# Per month: 2025-01 store 400.00; 2025-02 online 100.00 + 80.00 = 180.00 and no channel 50.00 − 10.00 = 40.00.
EXPECTED_CHANNEL_MIX = [
    ("2025-01", "store", 400.0, 1.0),
    ("2025-02", "online", 180.0, 180 / 220),
    ("2025-02", "No channel", 40.0, 40 / 220),
]

OPPORTUNITY_COLUMNS = (
    MART_COLUMNS["fct_opportunities"]
    + """, last_activity_date date,
    days_in_current_stage integer, is_past_due boolean, is_stale boolean"""
)
# id, account, owner, stage, status, amount, close, last activity, days in stage, past due, stale
DEALS = [
    ("O1", "C1", "R1", "proposal", "open", "500.00", date(2025, 4, 30), date(2025, 1, 20), 40, False, True),
    ("O2", "C2", "R1", "negotiation", "open", "300.00", date(2025, 3, 1), None, 70, True, True),
    ("O3", "C1", "R2", "qualification", "open", "1000.00", date(2025, 3, 10), date(2025, 3, 10), 5, True, False),
    ("O4", "C1", "R2", "proposal", "open", "50.00", date(2025, 5, 1), date(2025, 3, 14), 3, False, False),
    ("O5", "C1", "R3", "closed_won", "won", "700.00", date(2025, 1, 1), date(2024, 12, 1), None, False, False),
    ("O6", None, None, "prospecting", "open", None, None, None, 90, False, True),
]
# Cold: O1, O2 (R1: 2 stale, 1 past due, 800.00), O3 (R2: 1 past due, 1000.00), O6 (no owner: 1 stale).
EXPECTED_OWNERS = [
    ("R2", 0, 1, 1, Decimal("1000.00")),
    ("R1", 2, 1, 2, Decimal("800.00")),
    (None, 1, 0, 1, Decimal("0")),
]
EXPECTED_DEAL_ROWS = [("O3", "1000.00", "5"), ("O1", "500.00", "40"), ("O2", "300.00", "70"), ("O6", "", "90")]
PII_NAME = "Beta Trading (ceo@beta.example)"


def _insert(con, table: str, columns: list[str], rows) -> None:
    marks = ", ".join("?" * len(columns))
    con.executemany(f"insert into marts.{table} ({', '.join(columns)}) values ({marks})", [list(r) for r in rows])


def make_section_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.mart_sales_by_product_monthly ({PRODUCT_COLUMNS})")
    _insert(
        con,
        "mart_sales_by_product_monthly",
        [
            "month",
            "product_id",
            "channel",
            "region",
            "product_name",
            "category",
            "units_sold",
            "net_revenue",
            "cost_amount",
        ],
        PRODUCT_SALES,
    )
    con.execute("""update marts.mart_sales_by_product_monthly set gross_margin = net_revenue - cost_amount""")
    con.execute(f"create table marts.fct_opportunities ({OPPORTUNITY_COLUMNS})")
    _insert(
        con,
        "fct_opportunities",
        [
            "opportunity_id",
            "account_id",
            "owner_rep_id",
            "stage",
            "status",
            "amount",
            "close_date",
            "last_activity_date",
            "days_in_current_stage",
            "is_past_due",
            "is_stale",
        ],
        DEALS,
    )
    # as_of = last_order_date + recency_days (report._reference_dates)
    con.execute(f"create table marts.dim_customers ({MART_COLUMNS['dim_customers']})")
    _insert(
        con,
        "dim_customers",
        ["account_id", "account_name", "last_order_date", "recency_days"],
        [("C1", "Acme Ltd", AS_OF - timedelta(days=3), 3), ("C2", PII_NAME, None, None)],
    )
    con.execute(f"create table marts.mart_rep_kpi_monthly ({MART_COLUMNS['mart_rep_kpi_monthly']})")
    _insert(
        con,
        "mart_rep_kpi_monthly",
        ["month", "rep_id", "rep_name"],
        [(date(2025, 2, 1), "R1", "Wang Fang"), (date(2025, 2, 1), "R2", "Li Lei")],
    )
    con.close()
    return path


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("sections")
    return write_report_pages(make_section_warehouse(base / "sections.duckdb"), base)


@pytest.fixture(scope="module")
def rendered(pages):
    return render_report_pages(pages)


def _table(html: str, table_id: str) -> list[tuple[str, tuple[str, ...]]]:
    """(row key, the numeric cells' data-value) per row of the table, in page order."""
    body = html[html.index(f'<table id="{table_id}">') :]
    body = body[: body.index("</table>")]
    return [
        (key, tuple(re.findall(r'data-value="([^"]*)"', row)))
        for key, row in re.findall(r'<tr data-row="([^"]*)">(.*?)</tr>', body, re.S)
    ]


# ---------------------------------------------------------------- figures, without a browser


def test_top_products_revenue_margin_and_share_match_the_hand_sums(pages):
    data = load_report_data(pages["warehouse"])
    assert data.report_month == date(2025, 2, 1)
    rows = product_rows(data, LABELS["en"])
    assert [(r["product_id"], r["product"], r["net_revenue"], r["gross_margin"]) for r in rows] == [
        e[:4] for e in EXPECTED_PRODUCTS
    ]
    for row, (*_, rate) in zip(rows, EXPECTED_PRODUCTS):
        assert row["margin_rate"] == (None if rate is None else pytest.approx(rate))
        assert row["share"] == pytest.approx(float(row["net_revenue"] / TOTAL_REVENUE))
    # the product without a unit cost: revenue counted, no cost, no margin
    assert (rows[0]["cost_known"], rows[0]["cost"]) == (False, None)
    assert [
        (r["month"], r["channel"], r["net_revenue"], pytest.approx(r["share"]))
        for r in channel_mix_rows(data, LABELS["en"])
    ] == EXPECTED_CHANNEL_MIX


def test_cold_deals_per_owner_match_the_hand_counts(pages):
    data = load_report_data(pages["warehouse"])
    assert [
        (o["owner_rep_id"], o["stale"], o["past_due"], o["deals"], o["amount"]) for o in owner_rows(data)
    ] == EXPECTED_OWNERS


def test_section_tables_in_both_languages(pages):
    for lang in ("en", "zh"):
        html = pages[lang].read_text(encoding="utf-8")
        products = _table(html, "top-products")
        assert [k for k, _ in products] == [e[0] for e in EXPECTED_PRODUCTS]
        # numeric cells: units, net revenue, share, cost, margin, margin rate
        desk, pen = products[0][1], products[1][1]
        assert (desk[1], desk[3:]) == ("400.00", ("", "", ""))  # no unit cost: revenue only
        assert (float(pen[0]), pen[1], pen[3], pen[4], float(pen[5])) == (15.0, "150.00", "60.00", "90.00", 0.6)
        assert float(pen[2]) == pytest.approx(150 / 620) and float(desk[2]) == pytest.approx(400 / 620)
        assert [(k, *v) for k, v in _table(html, "cold-deals")] == EXPECTED_DEAL_ROWS
        assert "ceo@beta.example" not in html.split("<script", 1)[0] + html.rsplit("</script>", 1)[-1]
    zh = pages["zh"].read_text(encoding="utf-8")
    assert "产品与渠道" in zh and "趋冷的商机" in zh and "无单位成本" in zh


def test_a_warehouse_without_the_engagement_columns_shows_no_cold_deals(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "old.duckdb")  # fct_opportunities without is_stale & co.
    data = load_report_data(wh)
    assert data.frames["cold_deals"].empty and owner_rows(data) == []
    assert data.frames["products"].empty  # no product mart at all


# ---------------------------------------------------------------- in headless Chromium

SECTION_CHARTS = ("top_products", "product_margin", "channel_mix", "cold_deals")


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sections_draw_in_the_browser_with_the_fixture_values(rendered, lang):
    L = LABELS[lang]
    dom = rendered[lang]
    page = Page(dom)
    for name in SECTION_CHARTS:
        chart = page.charts[name]
        assert chart["svg"] or chart["canvas"], f"{lang}: {name} drew nothing: {chart['text'][:300]}"
        assert not chart["error"] and L["no_data"] not in chart["text"], f"{lang}: {name}: {chart['text'][:300]}"
    top = page.charts["top_products"]["text"]  # the SVG's texts, run together
    assert top.index("Desk") < top.index("Pen") < top.index("Lamp") < top.index(L["product_unknown"])
    margin = page.charts["product_margin"]["text"]
    assert "Pen" in margin and "Lamp" in margin and "Desk" not in margin  # no unit cost, no margin
    assert L["margin_cost_unknown_note"].format(count=1) in margin
    assert L["channel_none"] in page.charts["channel_mix"]["text"] and "online" in page.charts["channel_mix"]["text"]
    cold = page.charts["cold_deals"]["text"]
    assert "Wang Fang" in cold and "Li Lei" in cold and L["owner_none"] in cold and L["past_due_deals"] in cold
    assert cold.index("Li Lei") < cold.index("Wang Fang")  # the most amount at stake first
    assert [(k, *v) for k, v in _table(dom, "cold-deals")] == EXPECTED_DEAL_ROWS
    products = _table(dom, "top-products")
    assert [k for k, _ in products] == [e[0] for e in EXPECTED_PRODUCTS]
    assert dict(products)["P1"][1::3] == ("150.00", "90.00")  # net revenue, gross margin
    assert L["section_products"] in page.headings and L["section_cold_deals"] in page.headings


# ---------------------------------------------------------------- the whole zh page's chart titles

_ALLOWED_LATIN = {"NPS", "CSAT", "VIP"}


def _titles(spec) -> list[str]:
    """Every chart, axis and legend title (and subtitle) text in a Vega-Lite spec."""
    found = []
    if isinstance(spec, list):
        for item in spec:
            found.extend(_titles(item))
    elif isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("data", "datasets"):
                continue
            if key in ("title", "subtitle") and isinstance(value, str):
                found.append(value)
            elif key in ("title", "subtitle") and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
            elif key == "title" and isinstance(value, dict):  # {"text": ..., "subtitle": ...}
                found.extend(_titles({"title": value.get("text"), "subtitle": value.get("subtitle")}))
            else:
                found.extend(_titles(value))
    return found


def _english_words(text: str) -> list[str]:
    text = re.sub(r"marts\.\w+", "", text)  # the mart a capped chart points to is a name, not prose
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in _ALLOWED_LATIN]


def test_the_whole_zh_page_has_no_english_chart_titles(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "full.duckdb")  # every chart of the report has data
    with duckdb.connect(str(wh)) as con:
        con.execute(f"create table marts.mart_sales_by_product_monthly ({PRODUCT_COLUMNS})")
        _insert(
            con,
            "mart_sales_by_product_monthly",
            ["month", "product_id", "channel", "units_sold", "net_revenue", "cost_amount", "gross_margin"],
            [(date(2025, 2, 1), "P1", None, 1, "10.00", "4.00", "6.00")],
        )
    zh = write_report(wh, tmp_path / "out", lang="zh").read_text(encoding="utf-8")
    specs = json.loads(re.search(r"const specs = (\{.*?\});\n", zh, re.S).group(1))
    assert set(SECTION_CHARTS) <= set(specs)
    for name, spec in specs.items():
        titles = _titles(spec)
        assert titles, f"{name}: no title"
        for title in titles:
            assert not _english_words(title), f"zh chart {name}: English in title {title!r}"
