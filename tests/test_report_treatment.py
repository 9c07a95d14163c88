"""The report's "Customer treatment" section: treatment rate per stage over time, the order rates
of treated and untreated customers with the lift, and the untreated VIP and dormant customers with
their owners. The fixture warehouse holds a few hand-made rows of mart_customer_treatment_monthly
and of dim_customers with its engagement columns; the expected figures are worked out by hand in
the comments. Both languages are rendered in headless Chromium; the zh charts have no English titles."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.serving.labels import LABELS
from orchestration.serving.report import load_report_data, write_report
from orchestration.serving.report_treatment import lift_rows, treatment_rate_rows
from tests.support import needs_chromium, render_report_pages, write_report_pages
from tests.test_report import MART_COLUMNS, Page, make_fixture_warehouse
from tests.test_report_products_cold_deals import _english_words, _insert, _table, _titles

AS_OF = date(2025, 3, 15)  # the last full month is February: the window is 2024-03 .. 2025-02

TREATMENT_COLUMNS = """month date, team_id varchar, lifecycle_stage varchar, customers bigint,
    treated_customers bigint, untreated_customers bigint, treatment_rate double, ordered_treated bigint,
    ordered_untreated bigint, order_rate_treated double, order_rate_untreated double, order_rate_lift double,
    reactivated_treated bigint, reactivated_untreated bigint"""
TREATMENT_FIELDS = [
    "month",
    "team_id",
    "lifecycle_stage",
    "customers",
    "treated_customers",
    "untreated_customers",
    "ordered_treated",
    "ordered_untreated",
]
TREATMENT = [
    (date(2025, 1, 1), "T1", "vip", 4, 2, 2, 1, 0),
    (date(2025, 1, 1), "T2", "vip", 2, 0, 2, 0, 1),
    (date(2025, 2, 1), "T1", "vip", 4, 3, 1, 2, 0),
    (date(2025, 2, 1), "T1", "inactive", 10, 2, 8, 1, 0),
    (date(2025, 2, 1), "T1", "loyal", 0, 0, 0, 0, 0),  # a zero-filled cell: no rate
    (date(2024, 2, 1), "T1", "vip", 5, 5, 0, 5, 0),  # before the window
    (date(2025, 3, 1), "T1", "vip", 9, 9, 0, 9, 0),  # after February
]
# Rates: 2025-01 VIP (4 + 2 customers, 2 treated) 1/3; 2025-02 inactive 2/10; 2025-02 VIP 3/4.
EXPECTED_RATES = [("2025-01", "VIP", 6, 2, 1 / 3), ("2025-02", "Inactive", 10, 2, 0.2), ("2025-02", "VIP", 4, 3, 0.75)]
# Over the window: VIP 10 customers, 5 treated of whom 3 ordered (0.6), 5 untreated of whom 1 (0.2): lift 0.4;
# inactive 2 treated, 1 ordered (0.5), 8 untreated, none ordered (0.0): lift 0.5. Lifecycle order.
EXPECTED_LIFT = [("VIP", 0.6, 0.2, 0.4), ("Inactive", 0.5, 0.0, 0.5)]

CUSTOMER_COLUMNS = (
    MART_COLUMNS["dim_customers"]
    + """, last_activity_date date, last_visit_date date,
    activities_90d bigint, visits_90d bigint, days_since_last_touch integer"""
)
# id, name, stage, owner, visits_90d, activities_90d, last activity, last visit, lifetime revenue
CUSTOMERS = [
    ("C1", "Acme Ltd", "vip", "R1", 0, 3, date(2025, 3, 1), date(2024, 10, 1), "900.00"),  # VIP unvisited
    ("C2", "Beta (ceo@beta.example)", "vip", "R1", 1, 1, date(2025, 3, 2), date(2025, 3, 2), "800.00"),
    ("C3", "Gamma", "inactive", "R2", 0, 0, None, None, "5000.00"),  # dormant, untouched
    ("C4", "Delta", "inactive", "R2", 0, 2, date(2025, 2, 1), None, "7000.00"),  # dormant, called
    ("C5", "Epsilon", "vip", None, None, None, None, None, "100.00"),  # no touch ever
    ("C6", "Zeta", "loyal", "R1", 0, 0, None, None, "50.00"),  # not listed: loyal
]
# Listed: the VIPs C1 (900.00) and C5 (100.00) first, then the dormant C3.
EXPECTED_UNTREATED = [("C1", "900.00"), ("C5", "100.00"), ("C3", "5000.00")]


def make_treatment_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.mart_customer_treatment_monthly ({TREATMENT_COLUMNS})")
    _insert(con, "mart_customer_treatment_monthly", TREATMENT_FIELDS, TREATMENT)
    con.execute(f"create table marts.dim_customers ({CUSTOMER_COLUMNS})")
    _insert(
        con,
        "dim_customers",
        [
            "account_id",
            "account_name",
            "lifecycle_stage",
            "owner_rep_id",
            "visits_90d",
            "activities_90d",
            "last_activity_date",
            "last_visit_date",
            "lifetime_net_revenue",
        ],
        CUSTOMERS,
    )
    # as_of = last_order_date + recency_days (report._reference_dates)
    con.execute(
        "update marts.dim_customers set last_order_date = ?, recency_days = 3 where account_id = 'C1'",
        [AS_OF - timedelta(days=3)],
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
    base = tmp_path_factory.mktemp("treatment")
    return write_report_pages(make_treatment_warehouse(base / "treatment.duckdb"), base)


@pytest.fixture(scope="module")
def rendered(pages):
    return render_report_pages(pages)


def test_treatment_rates_and_lift_match_the_hand_sums(pages):
    data = load_report_data(pages["warehouse"])
    assert data.report_month == date(2025, 2, 1)
    L = LABELS["en"]
    assert [
        (r["month"], r["stage"], r["customers"], r["treated"], pytest.approx(r["rate"]))
        for r in treatment_rate_rows(data, L)
    ] == EXPECTED_RATES
    assert [
        (r["stage"], pytest.approx(r["treated_rate"]), pytest.approx(r["untreated_rate"]), pytest.approx(r["lift"]))
        for r in lift_rows(data, L)
    ] == EXPECTED_LIFT


def test_untreated_table_in_both_languages(pages):
    for lang in ("en", "zh"):
        html = pages[lang].read_text(encoding="utf-8")
        assert [(k, *v) for k, v in _table(html, "untreated")] == EXPECTED_UNTREATED
        body = html[html.index('<table id="untreated">') :]
        row = body[body.index('data-row="C1"') :]
        row = row[: row.index("</tr>")]
        assert "Wang Fang" in row and "2024-10-01" in row
        assert LABELS[lang]["owner_none"] in body[body.index('data-row="C5"') :]
    assert "客户经营" in pages["zh"].read_text(encoding="utf-8")


def test_a_warehouse_without_the_treatment_mart_shows_no_data(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "old.duckdb")  # dim_customers without engagement columns
    data = load_report_data(wh)
    assert data.frames["treatment"].empty and data.frames["untreated"].empty
    assert treatment_rate_rows(data, LABELS["en"]) == [] and lift_rows(data, LABELS["en"]) == []


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_section_draws_in_the_browser_with_the_fixture_values(rendered, lang):
    L = LABELS[lang]
    page = Page(rendered[lang])
    for name in ("treatment_rate", "treatment_lift"):
        chart = page.charts[name]
        assert chart["svg"] or chart["canvas"], f"{lang}: {name} drew nothing: {chart['text'][:300]}"
        assert not chart["error"] and L["no_data"] not in chart["text"], f"{lang}: {name}: {chart['text'][:300]}"
    rate = page.charts["treatment_rate"]["text"]
    assert L["life_stage.vip"] in rate and L["life_stage.inactive"] in rate and L["life_stage.loyal"] not in rate
    lift = page.charts["treatment_lift"]["text"]
    assert lift.index(L["life_stage.vip"]) < lift.index(L["life_stage.inactive"])
    assert L["order_rate_treated"] in lift and L["order_rate_untreated"] in lift
    assert [(k, *v) for k, v in _table(rendered[lang], "untreated")] == EXPECTED_UNTREATED
    assert L["section_treatment"] in page.headings
    assert "ceo@beta.example" not in rendered[lang].split("<script", 1)[0]


def test_the_zh_treatment_charts_have_no_english_titles(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "full.duckdb")
    with duckdb.connect(str(wh)) as con:
        con.execute(f"create table marts.mart_customer_treatment_monthly ({TREATMENT_COLUMNS})")
        _insert(con, "mart_customer_treatment_monthly", TREATMENT_FIELDS, TREATMENT)
    zh = write_report(wh, tmp_path / "out", lang="zh").read_text(encoding="utf-8")
    specs = json.loads(re.search(r"const specs = (\{.*?\});\n", zh, re.S).group(1))
    for name in ("treatment_rate", "treatment_lift"):
        titles = _titles(specs[name])
        assert len(titles) >= 3, f"{name}: {titles}"  # chart, axis and legend titles
        for title in titles:
            assert not _english_words(title), f"zh chart {name}: English in title {title!r}"
