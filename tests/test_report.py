"""The sales manager's HTML report: right numbers, every chart drawn offline, both languages, no PII.

The fixture warehouse holds the marts' contract columns (marts.md) with a few hand-made rows;
the expected headline values below are worked out by hand from those rows.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from orchestration.serving.labels import LABELS
from orchestration.serving.report import CHART_NAMES, load_report_data, write_report
from tests.support import needs_chromium, render_report_pages

AS_OF = date(2025, 3, 15)  # mid-month: the last full month is February

# ---------------------------------------------------------------- fixture warehouse

MART_COLUMNS = {
    "dim_customers": """account_id varchar, account_name varchar, industry varchar, region varchar,
        city varchar, owner_rep_id varchar, team_id varchar, created_date date, first_order_date date,
        last_order_date date, lifetime_orders bigint, lifetime_net_revenue decimal(18,2), orders_365d bigint,
        net_revenue_365d decimal(18,2), recency_days integer, r_score integer, f_score integer,
        m_score integer, rfm_code varchar, lifecycle_stage varchar, recommended_action varchar,
        latest_nps_score integer, open_cases bigint""",
    "fct_opportunities": """opportunity_id varchar, account_id varchar, owner_rep_id varchar, team_id varchar,
        region varchar, lead_id varchar, lead_source varchar, product_id varchar, created_date date,
        close_date date, stage varchar, stage_order integer, status varchar, amount decimal(18,2),
        stage_probability double, weighted_amount decimal(18,2), max_stage_order_reached integer,
        sales_cycle_days integer, age_days integer, is_closed boolean, is_won boolean""",
    "mart_funnel_monthly": """cohort_month date, team_id varchar, stage varchar, stage_order integer,
        opportunities_reached bigint, opportunities_advanced bigint, stage_conversion_rate double,
        cumulative_conversion_rate double, avg_days_in_stage double""",
    "mart_team_kpi_monthly": """month date, team_id varchar, net_revenue decimal(18,2),
        revenue_target decimal(18,2), revenue_attainment double, new_customers_attainment double,
        visits_attainment double, opportunities_won bigint, opportunities_lost bigint, win_rate double,
        nps_promoters bigint, nps_detractors bigint, nps_responses bigint, nps double,
        csat_satisfied bigint, csat_responses bigint, csat_rate double""",
    "mart_rep_kpi_monthly": """month date, rep_id varchar, rep_name varchar, team_id varchar, region varchar,
        nps_promoters bigint, nps_detractors bigint, nps_responses bigint, nps double,
        gross_revenue decimal(18,2), orders_count bigint, complaints_opened bigint""",
    "mart_budget_vs_actual": """month date, team_id varchar, category varchar, budget_amount decimal(18,2),
        actual_amount decimal(18,2), variance decimal(18,2), variance_pct double, utilization double,
        ytd_budget decimal(18,2), ytd_actual decimal(18,2), ytd_variance decimal(18,2), is_over_budget boolean""",
    "mart_lifecycle_monthly": """month date, lifecycle_stage varchar, customers bigint, share_of_customers double,
        entered bigint, exited bigint, reactivated bigint, net_revenue decimal(18,2)""",
    "mart_service_monthly": """month date, team_id varchar, cases_opened bigint, complaints_opened bigint,
        cases_resolved bigint, median_first_response_hours double, median_resolution_hours double,
        first_response_breaches bigint, first_response_breach_rate double""",
    "mart_forecast_accuracy": """forecast_date date, close_month date, team_id varchar, horizon_months integer,
        forecast_amount decimal(18,2), calibrated_forecast_amount decimal(18,2), actual_won_amount decimal(18,2)""",
    "mart_pipeline_movement_monthly": """month date, team_id varchar, open_start_amount decimal(18,2),
        open_end_amount decimal(18,2), new_amount decimal(18,2), amount_increased decimal(18,2),
        amount_decreased decimal(18,2), won_amount decimal(18,2), lost_amount decimal(18,2),
        moved_in_amount decimal(18,2), moved_out_amount decimal(18,2), other_in_amount decimal(18,2),
        other_out_amount decimal(18,2)""",
    "mart_stage_win_rates": """stage_order integer, stage varchar, team_id varchar, closed_reached bigint,
        won bigint, historical_win_rate double, seed_probability decimal(5,4)""",
}

PII_NAME = "Beta Trading (ceo@beta.example, +86 138 0013 8000)"

# account_id, name, stage, recency_days, latest_nps, lifetime_net_revenue
CUSTOMERS = [
    ("C1", "Acme Ltd", "inactive", 226, 8, "5000.00"),
    ("C2", PII_NAME, "vip", 75, 9, "90000.00"),
    ("C3", "Gamma Co", "vip", 10, 5, "80000.00"),
    ("C4", "Delta Co", "vip", 10, 9, "95000.00"),  # VIP, recent and happy: not at risk
    ("C5", "Epsilon Co", "loyal", 30, 4, "7000.00"),  # unhappy but not VIP: not at risk
    ("C6", "Zeta Co", "prospect", None, None, None),
    ("C7", "Eta Co", "vip", 61, None, "70000.00"),
    ("C8", "Theta Co", "vip", 60, 6, "60000.00"),
    ("C9", "Iota Co", "inactive", 400, None, "100.00"),
]
EXPECTED_AT_RISK = ["C2", "C3", "C7", "C8", "C1", "C9"]  # VIP first, then by lifetime revenue

STAGES = ["prospecting", "qualification", "needs_analysis", "proposal", "negotiation", "closed_won"]
LIFECYCLE = ["prospect", "new", "active", "loyal", "vip", "inactive"]


def _create_marts(con) -> None:
    con.execute("create schema marts")
    for table, columns in MART_COLUMNS.items():
        con.execute(f"create table marts.{table} ({columns})")


def _insert(con, table: str, rows: list[dict]) -> None:
    for row in rows:
        cols = ", ".join(row)
        con.execute(f"insert into marts.{table} ({cols}) values ({', '.join('?' * len(row))})", list(row.values()))


def make_fixture_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    _create_marts(con)
    _insert(
        con,
        "dim_customers",
        [
            {
                "account_id": a,
                "account_name": n,
                "region": "East",
                "owner_rep_id": "R1",
                "team_id": "T1",
                "lifecycle_stage": s,
                "recency_days": rec,
                "last_order_date": None if rec is None else AS_OF - timedelta(days=rec),
                "latest_nps_score": nps,
                "lifetime_net_revenue": rev,
                "net_revenue_365d": rev,
                "open_cases": 1,
                "recommended_action": {
                    "inactive": "reactivate with a call-back and a personal offer",
                    "vip": "dedicated account service, regular visits and events",
                }.get(s, "grow"),
            }
            for a, n, s, rec, nps, rev in CUSTOMERS
        ],
    )
    _insert(
        con,
        "fct_opportunities",
        [
            {
                "opportunity_id": "O1",
                "status": "open",
                "amount": "100.00",
                "created_date": date(2025, 3, 1),
                "age_days": 14,
            },
            {
                "opportunity_id": "O2",
                "status": "open",
                "amount": "250.25",
                "created_date": date(2025, 2, 13),
                "age_days": 30,
            },
            {"opportunity_id": "O3", "status": "won", "amount": "999.00", "created_date": date(2025, 1, 5)},
            {"opportunity_id": "O4", "status": "lost", "amount": "0.00", "created_date": date(2025, 1, 6)},
        ],
    )
    team_rows = []
    for month, team, net, target, won, lost, p, d, r, sat, csat_n in [
        (date(2025, 1, 1), "T1", "800.00", "1000.00", 2, 2, 1, 1, 2, 1, 2),
        (date(2025, 1, 1), "T2", "300.00", None, 0, 0, 0, 0, 0, 0, 0),
        (date(2025, 2, 1), "T1", "1000.00", "1200.00", 3, 1, 5, 1, 8, 6, 8),
        (date(2025, 2, 1), "T2", "500.50", "800.00", 1, 3, 1, 2, 4, 2, 4),
        (date(2025, 3, 1), "T1", "9999.00", "1200.00", 9, 0, 9, 0, 9, 9, 9),  # partial month: not headline
        (date(2025, 3, 1), "T2", "0.00", "800.00", 0, 0, 0, 0, 0, 0, 0),
    ]:
        team_rows.append(
            {
                "month": month,
                "team_id": team,
                "net_revenue": net,
                "revenue_target": target,
                "revenue_attainment": None if target is None else float(net) / float(target),
                "new_customers_attainment": 0.5,
                "visits_attainment": 1.25,
                "opportunities_won": won,
                "opportunities_lost": lost,
                "nps_promoters": p,
                "nps_detractors": d,
                "nps_responses": r,
                "csat_satisfied": sat,
                "csat_responses": csat_n,
            }
        )
    _insert(con, "mart_team_kpi_monthly", team_rows)
    funnel = []
    for cohort, team, reached in [
        (date(2025, 2, 1), "T1", [10, 8, 6, 4, 3, 2]),
        (date(2023, 1, 1), "T1", [100, 90, 80, 70, 60, 50]),
    ]:  # outside the window
        for i, stage in enumerate(STAGES):
            funnel.append(
                {
                    "cohort_month": cohort,
                    "team_id": team,
                    "stage": stage,
                    "stage_order": i + 1,
                    "opportunities_reached": reached[i],
                    "opportunities_advanced": reached[i + 1] if i < 5 else None,
                }
            )
    _insert(con, "mart_funnel_monthly", funnel)
    _insert(
        con,
        "mart_rep_kpi_monthly",
        [
            {
                "month": date(2025, 2, 1),
                "rep_id": "R1",
                "rep_name": "Li Wei",
                "team_id": "T1",
                "nps_promoters": 5,
                "nps_detractors": 1,
                "nps_responses": 8,
            },
            {
                "month": date(2025, 2, 1),
                "rep_id": "R2",
                "rep_name": "Wang Fang",
                "team_id": "T2",
                "nps_promoters": 1,
                "nps_detractors": 2,
                "nps_responses": 4,
            },
        ],
    )
    _insert(
        con,
        "mart_budget_vs_actual",
        [
            {
                "month": date(2025, 2, 1),
                "team_id": "T1",
                "category": "travel",
                "budget_amount": "1000.00",
                "actual_amount": "1200.00",
                "is_over_budget": True,
            },
            {
                "month": date(2025, 2, 1),
                "team_id": "T1",
                "category": "events",
                "budget_amount": "500.00",
                "actual_amount": "400.00",
                "is_over_budget": False,
            },
        ],
    )
    _insert(
        con,
        "mart_lifecycle_monthly",
        [
            {
                "month": m,
                "lifecycle_stage": s,
                "customers": 10 + i + k,
                "entered": i,
                "exited": k,
                "reactivated": None if s in ("inactive", "prospect") else 1,
            }
            for k, m in enumerate([date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)])
            for i, s in enumerate(LIFECYCLE)
        ],
    )
    _insert(
        con,
        "mart_service_monthly",
        [
            {
                "month": date(2025, m, 1),
                "team_id": t,
                "cases_opened": 4,
                "complaints_opened": 2,
                "cases_resolved": 3,
                "median_first_response_hours": 5.5 + m,
                "first_response_breaches": 1,
            }
            for m in (1, 2, 3)
            for t in ("T1", "T2")
        ],
    )
    _insert_history_marts(con)
    con.close()
    return path


# Forecast made at each month end for the next month (horizon 1), summed over teams by hand:
#   2025-01: seed 100 + 50 = 150, calibrated 150 + 40 = 190, won 120 + 0 = 120 -> errors 30 and 70
#   2025-02: seed 200, calibrated 210, won 300                               -> errors -100 and -90
# (the horizon-2 row for 2025-02 is another forecast and stays out)
FORECAST_TABLE = {
    "2025-01": ("120.00", "150.00", "30.00", "190.00", "70.00"),
    "2025-02": ("300.00", "200.00", "-100.00", "210.00", "-90.00"),
}
# February's waterfall over T1 and T2: start 1000; +500 new, +50, -20, -300 won, -100 lost,
# +210 moved in (T2), -200 moved out (T1) -> end 930 + 210 = 1140.
WATERFALL = [1000, 500, 50, -20, -300, -100, 210, -200, 0, 0, 1140]


def _insert_history_marts(con) -> None:
    _insert(
        con,
        "mart_forecast_accuracy",
        [
            {
                "forecast_date": fd,
                "close_month": cm,
                "team_id": t,
                "horizon_months": h,
                "forecast_amount": f,
                "calibrated_forecast_amount": c,
                "actual_won_amount": a,
            }
            for fd, cm, t, h, f, c, a in [
                (date(2024, 12, 31), date(2025, 1, 1), "T1", 1, "100.00", "150.00", "120.00"),
                (date(2024, 12, 31), date(2025, 1, 1), "T2", 1, "50.00", "40.00", "0.00"),
                (date(2025, 1, 31), date(2025, 2, 1), "T1", 1, "200.00", "210.00", "300.00"),
                (date(2024, 12, 31), date(2025, 2, 1), "T1", 2, "999.00", "999.00", "300.00"),
            ]
        ],
    )
    zero = {
        c: "0.00"
        for c in (
            "amount_increased",
            "amount_decreased",
            "won_amount",
            "lost_amount",
            "new_amount",
            "moved_in_amount",
            "moved_out_amount",
            "other_in_amount",
            "other_out_amount",
        )
    }
    _insert(
        con,
        "mart_pipeline_movement_monthly",
        [
            {
                **zero,
                "month": date(2025, 1, 1),
                "team_id": "T1",
                "open_start_amount": "0.00",
                "open_end_amount": "1000.00",
                "new_amount": "1000.00",
            },
            {
                **zero,
                "month": date(2025, 2, 1),
                "team_id": "T1",
                "open_start_amount": "1000.00",
                "open_end_amount": "930.00",
                "new_amount": "500.00",
                "amount_increased": "50.00",
                "amount_decreased": "20.00",
                "won_amount": "300.00",
                "lost_amount": "100.00",
                "moved_out_amount": "200.00",
            },
            {
                **zero,
                "month": date(2025, 2, 1),
                "team_id": "T2",
                "open_start_amount": "0.00",
                "open_end_amount": "210.00",
                "moved_in_amount": "210.00",
            },
        ],
    )
    _insert(
        con,
        "mart_stage_win_rates",
        [
            {
                "stage_order": o,
                "stage": s,
                "team_id": t,
                "closed_reached": n,
                "won": w,
                "historical_win_rate": r,
                "seed_probability": p,
            }
            for o, s, t, n, w, r, p in [
                (1, "prospecting", None, 10, 4, 0.4, "0.10"),
                (5, "negotiation", None, 5, 4, 0.8, "0.80"),
                (1, "prospecting", "T1", 2, 2, 1.0, "0.10"),
            ]
        ],
    )


def make_empty_warehouse(path: Path) -> Path:
    con = duckdb.connect(str(path))
    _create_marts(con)
    con.close()
    return path


# ---------------------------------------------------------------- reading the page


class Page(HTMLParser):
    """What the tests look at: chart containers, KPI cards, headings, external references."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.charts: dict[str, dict] = {}
        self.kpis: dict[str, dict] = {}
        self.headings: list[str] = []
        self.external_refs: list[str] = []
        self.at_risk_ids: list[str] = []
        self.html_lang = None
        self._heading: list[str] | None = None
        self.feed(html)

    def _open(self, name):
        return [attrs[name] for _, attrs in self.stack if name in attrs]

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html_lang = attrs.get("lang")
        for ref in ("src", "href"):
            if tag in ("script", "link", "img", "iframe", "source", "embed") and attrs.get(ref, "").startswith(
                ("http:", "https:", "//")
            ):
                self.external_refs.append(attrs[ref])
        if tag == "div" and "data-chart" in attrs:
            self.charts[attrs["data-chart"]] = {"svg": False, "canvas": False, "text": "", "error": False}
        if "data-render-error" in attrs:
            for chart in self._open("data-chart"):
                self.charts[chart]["error"] = True
        if tag in ("svg", "canvas"):
            for chart in self._open("data-chart"):
                self.charts[chart][tag] = True
        if "data-kpi" in attrs:
            self.kpis[attrs["data-kpi"]] = {"value": attrs["data-value"], "text": "", "details": {}}
        if "data-kpi-detail" in attrs:
            kpi = self._open("data-kpi")[-1]
            self.kpis[kpi]["details"][attrs["data-kpi-detail"]] = attrs["data-value"]
        if tag == "tr" and "data-account-id" in attrs:
            self.at_risk_ids.append(attrs["data-account-id"])
        if tag in ("h1", "h2"):
            self._heading = []
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)
        for chart in self._open("data-chart"):
            self.charts[chart]["text"] += data
        for kpi in self._open("data-kpi"):
            if any(t == "div" and a.get("class") == "value" for t, a in self.stack):
                self.kpis[kpi]["text"] += data.strip()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    full = make_fixture_warehouse(base / "full.duckdb")
    empty = make_empty_warehouse(base / "empty.duckdb")
    return {
        "en": write_report(full, base / "out", lang="en", currency="CNY"),
        "zh": write_report(full, base / "out", lang="zh", currency="CNY"),
        # Empty marts rendered in Chinese: one browser run checks both "no data" and the zh labels.
        "empty": write_report(empty, base / "empty_out", lang="zh"),
        "base": base,
        "full": full,
    }


@pytest.fixture(scope="module")
def rendered(reports):
    return {k: Page(dom) for k, dom in render_report_pages(reports, ("en", "empty")).items()}


# ---------------------------------------------------------------- tests without a browser


def test_files_are_named_per_language(reports):
    assert reports["en"].name == "sales_report.html"
    assert reports["zh"].name == "sales_report.zh.html"
    assert reports["en"].parent == reports["zh"].parent


def test_headline_values_match_hand_computed_figures(reports):
    page = Page(reports["en"].read_text(encoding="utf-8"))
    k = page.kpis
    # February (last full month): T1 1000.00 + T2 500.50 against targets 1200.00 + 800.00.
    assert Decimal(k["net_revenue"]["value"]) == Decimal("1500.50")
    assert k["net_revenue"]["text"] == "1,500.50"
    assert Decimal(k["net_revenue"]["details"]["revenue_target"]) == Decimal("2000.00")
    assert float(k["net_revenue"]["details"]["revenue_attainment"]) == pytest.approx(1500.50 / 2000)
    # Win rate by count: (3 + 1) won of (3 + 1 + 1 + 3) closed.
    assert float(k["win_rate"]["value"]) == pytest.approx(0.5)
    assert k["win_rate"]["text"] == "50.0%"
    assert k["win_rate"]["details"]["opportunities_closed"] == "8"
    # NPS from summed parts: (5 + 1 − 1 − 2) / (8 + 4) × 100, not the mean of the team NPS.
    assert float(k["nps"]["value"]) == pytest.approx(25.0)
    assert k["nps"]["text"] == "25.0"
    # Open pipeline: O1 100.00 + O2 250.25; the won and lost deals are not pipeline.
    assert Decimal(k["open_pipeline"]["value"]) == Decimal("350.25")
    assert k["open_pipeline"]["details"]["open_opportunities"] == "2"


def test_last_full_month_is_the_as_of_month_when_as_of_is_its_last_day(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "w.duckdb")
    data = load_report_data(wh)
    assert (data.as_of_date, data.report_month) == (AS_OF, date(2025, 2, 1))
    with duckdb.connect(str(wh)) as con:  # as_of becomes 2025-03-31: March is then complete
        con.execute("update marts.dim_customers set last_order_date = last_order_date + 16")
    data = load_report_data(wh)
    assert (data.as_of_date, data.report_month) == (date(2025, 3, 31), date(2025, 3, 1))
    assert data.headline.net_revenue == Decimal("9999.00")  # T1 9999.00 + T2 0.00


def test_at_risk_customers_are_inactive_and_vip_at_risk_without_contact_details(reports):
    html = reports["en"].read_text(encoding="utf-8")
    page = Page(html)
    assert page.at_risk_ids == EXPECTED_AT_RISK
    assert "reactivate with a call-back and a personal offer" in html  # recommended_action shown
    assert "ceo@beta.example" not in html
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.-]+", html.split("<script", 1)[0] + html.rsplit("</script>", 1)[-1])
    assert "138 0013 8000" not in html and "13800138000" not in html


def test_zh_page_is_chinese_and_shows_the_same_numbers(reports):
    en, zh = (Page(reports[k].read_text(encoding="utf-8")) for k in ("en", "zh"))
    assert zh.html_lang == "zh-CN"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert zh.headings and all(cjk.search(h) for h in zh.headings)
    assert zh.headings[0] == "销售管理报告"
    assert not set(zh.headings) & set(en.headings)
    assert {k: v["value"] for k, v in zh.kpis.items()} == {k: v["value"] for k, v in en.kpis.items()}


def test_both_languages_carry_the_same_labels():
    assert set(LABELS["en"]) == set(LABELS["zh"])
    for key, text in LABELS["en"].items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", LABELS["zh"][key])), key


def test_page_is_self_contained(reports):
    for key in ("en", "zh", "empty"):
        page = Page(reports[key].read_text(encoding="utf-8"))
        assert page.external_refs == []
        html = reports[key].read_text(encoding="utf-8")
        assert not re.search(r"""url\(\s*['"]?(https?:)?//|@import""", html)
        assert set(page.charts) == set(CHART_NAMES)


def test_warehouse_is_opened_read_only_and_released(tmp_path):
    wh = make_fixture_warehouse(tmp_path / "w.duckdb")
    # DuckDB refuses a read-write connection to a file this process holds read-only: so the
    # report's connection must be read-only too.
    with duckdb.connect(str(wh), read_only=True):
        assert load_report_data(wh).headline.net_revenue == Decimal("1500.50")
    with duckdb.connect(str(wh)) as con:  # and nothing is left open afterwards
        con.execute("create table marts.touch as select 1 as x")


def test_both_pages_from_one_read_are_the_pages_of_two(reports, tmp_path, monkeypatch):
    from orchestration.serving import report

    reads = []
    real = report.load_report_data
    monkeypatch.setattr(report, "load_report_data", lambda wh: reads.append(wh) or real(wh))
    with pytest.raises(ValueError, match="fr"):  # an unknown language fails before the warehouse is read
        report.write_reports(reports["full"], tmp_path / "bad", langs=("en", "fr"))
    assert reads == [] and not (tmp_path / "bad").exists()
    pages = report.write_reports(reports["full"], tmp_path / "out", langs=("en", "zh"), currency="CNY")
    assert len(reads) == 1
    assert [p.name for p in pages] == [reports["en"].name, reports["zh"].name]
    for page, one_by_one in zip(pages, (reports["en"], reports["zh"])):
        assert page.read_text(encoding="utf-8") == one_by_one.read_text(encoding="utf-8")


def test_missing_marts_do_not_crash(tmp_path):
    duckdb.connect(str(tmp_path / "bare.duckdb")).close()
    page = Page(write_report(tmp_path / "bare.duckdb", tmp_path / "out").read_text(encoding="utf-8"))
    assert page.kpis["net_revenue"]["text"] == "—"
    assert page.at_risk_ids == []


def test_forecast_table_shows_seed_and_calibrated_against_actual_per_month(reports):
    html = reports["en"].read_text(encoding="utf-8")
    table = html[html.index('<table id="forecast-accuracy">') :]
    table = table[: table.index("</table>")]
    rows = {
        month: tuple(re.findall(r'data-value="([^"]*)"', body))
        for month, body in re.findall(r'<tr data-row="([^"]+)">(.*?)</tr>', table, re.S)
    }
    assert rows == FORECAST_TABLE
    assert "Forecast (calibrated win rates)" in table and "−100.00" not in table and "-100.00" in table
    zh = reports["zh"].read_text(encoding="utf-8")
    assert "预测与商机管道" in zh and "误差（校准）" in zh


def test_waterfall_of_the_last_full_month_adds_up(reports):
    from orchestration.serving.report_forecast import waterfall_steps

    data = load_report_data(reports["full"])
    steps = waterfall_steps(data, LABELS["en"])
    assert [s["value"] for s in steps] == WATERFALL
    assert steps[-2]["high"] == pytest.approx(1140) and steps[-1]["high"] == 1140
    assert data.frames["stage_win_rates"]["closed_reached"].tolist() == [10, 5]  # the all-teams rows


def test_unknown_language_is_refused(reports, tmp_path):
    with pytest.raises(ValueError, match="fr"):
        write_report(reports["full"], tmp_path, lang="fr")


# ---------------------------------------------------------------- tests in headless Chromium


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("key", ["en", "empty"])
def test_every_chart_draws_in_the_browser(rendered, key):
    page = rendered[key]
    assert set(page.charts) == set(CHART_NAMES)
    for name, chart in page.charts.items():
        assert chart["svg"] or chart["canvas"], f"{key}: chart {name} drew nothing: {chart['text'][:300]}"
        assert not chart["error"] and "Error" not in chart["text"], f"{key}: chart {name}: {chart['text'][:300]}"


@needs_chromium
@pytest.mark.browser
def test_rendered_charts_show_the_fixture_values(rendered):
    en, empty = rendered["en"], rendered["empty"]
    # Funnel over the recent cohorts only (the 2023 cohort is outside the 12-month window).
    assert "10 · 80.0% to next" in en.charts["funnel"]["text"]
    assert "Negotiation" in en.charts["funnel"]["text"]
    assert "100" not in en.charts["funnel"]["text"].replace("10 · 80.0%", "")
    assert "Over budget" in en.charts["budget"]["text"] and "Within budget" in en.charts["budget"]["text"]
    assert en.kpis["net_revenue"]["text"] == "1,500.50"
    waterfall = en.charts["pipeline_waterfall"]["text"]
    assert "Moved in" in waterfall and "2025-02" in waterfall
    assert "Negotiation" in en.charts["stage_win_rates"]["text"]
    assert (
        "2025-01" in en.charts["forecast_accuracy"]["text"]
        and "Forecast (seed probabilities)" in en.charts["forecast_accuracy"]["text"]
    )
    # Empty marts: every chart says so, in Chinese, under Chinese headings.
    for name, chart in empty.charts.items():
        assert LABELS["zh"]["no_data"] in chart["text"], name
    assert "销售漏斗" in empty.headings and empty.headings[0] == "销售管理报告"
    assert empty.kpis["net_revenue"]["text"] == "—"


# ---------------------------------------------------------------- charts at the size of a large company


def test_charts_of_many_teams_and_reps_show_the_ones_needing_attention_and_say_so():
    """Scale 50 has ~300 teams and ~2,000 reps: the page must still render (altair refuses to embed
    more than 5,000 rows) and each listing chart shows its most urgent rows with a note."""
    import pandas as pd

    from orchestration.serving.report_charts import (
        MAX_CHART_BARS,
        MAX_CHART_LINES,
        _attainment_chart,
        _budget_chart,
        _rep_nps_chart,
        _response_times_chart,
    )
    from orchestration.serving.report_data import Headline, ReportData

    teams = [f"T{i:03d}" for i in range(300)]
    months = [date(2024, m, 1) for m in range(1, 13)]
    # attainment falls with the team number: the lowest are the last MAX_CHART_BARS teams
    attainment = pd.DataFrame(
        {
            "team_id": teams,
            "revenue_attainment": [1.5 - i / 300 for i in range(300)],
            "new_customers_attainment": 1.0,
            "visits_attainment": 1.0,
        }
    )
    # overspend grows with the team number; category B is always within budget
    budget = pd.DataFrame(
        [
            {
                "team_id": t,
                "category": c,
                "budget_amount": 1000.0,
                "actual_amount": 1000.0 + (i if c == "A" else -50),
                "is_over_budget": c == "A" and i > 0,
            }
            for i, t in enumerate(teams)
            for c in ("A", "B")
        ]
    )
    # rep k: 10 responses, k promoters out of 10 -> NPS rises with k (0 detractors for k >= 5)
    reps = pd.DataFrame(
        [
            {
                "rep_id": f"R{k:04d}",
                "rep_name": f"Rep {k:04d}",
                "nps_promoters": k % 11,
                "nps_detractors": 10 - k % 11,
                "nps_responses": 10,
            }
            for k in range(2000)
        ]
    )
    # team i answers in i hours: the slowest are the highest numbers
    service = pd.DataFrame(
        [
            {
                "month": m,
                "team_id": t,
                "median_first_response_hours": float(i),
                "complaints_opened": 1,
                "first_response_breaches": 0,
                "cases_opened": 2,
            }
            for i, t in enumerate(teams)
            for m in months
        ]
    )
    data = ReportData(
        as_of_date=date(2024, 12, 31),
        as_of_month=date(2024, 12, 1),
        report_month=date(2024, 12, 1),
        headline=Headline(month=date(2024, 12, 1)),
        frames={"attainment": attainment, "budget": budget, "rep_nps": reps, "service": service},
    )
    L = LABELS["en"]

    def shown(chart, field):
        spec = chart.to_dict(validate=False)
        rows = [r for rows in spec["datasets"].values() for r in rows if field in r]
        subtitle = spec["title"]["subtitle"]
        return {r[field] for r in rows}, " / ".join(subtitle) if isinstance(subtitle, list) else subtitle

    teams_shown, subtitle = shown(_attainment_chart(data, L), "team_id")
    assert teams_shown == set(teams[-MAX_CHART_BARS:])
    assert "25 of 300 shown, lowest revenue attainment first" in subtitle

    rows_shown, subtitle = shown(_budget_chart(data, L), "row_label")
    assert rows_shown == {f"{t} · A" for t in teams[-MAX_CHART_BARS:]}
    assert "25 of 600 shown, largest overspend first; every row: marts.mart_budget_vs_actual" in subtitle

    reps_shown, subtitle = shown(_rep_nps_chart(data, L), "rep")
    lowest = sorted(range(2000), key=lambda k: (2 * (k % 11) - 10, k))[:MAX_CHART_BARS]
    assert {r.removeprefix("Rep ") for r in reps_shown} == {f"{k:04d}" for k in lowest}
    assert "lowest NPS first" in subtitle

    lines_shown, subtitle = shown(_response_times_chart(data, L), "team_id")
    assert lines_shown == set(teams[-MAX_CHART_LINES:])
    assert "8 of 300 shown, slowest first response first" in subtitle
