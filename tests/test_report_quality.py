"""The report's "Quality of sale" section (orchestration/serving/report_quality.py): the "complaints
rise faster than sales" rule on hand cases, and the section drawn in headless Chromium in both
languages from the report fixture warehouse plus six months of rep rows worked out by hand.

Last full month 2025-02 (the fixture's as_of is 2025-03-15): recent = 2024-12..2025-02,
before = 2024-09..2024-11. Per rep (sales before -> recent, complaints before -> recent):
  R1 Li Wei     3,000 -> 3,000   1 -> 3   complaints x3, sales x1        called out
  R2 Wang Fang  3,000 -> 9,000   2 -> 4   complaints x2, sales x3        not
  R3 Zhang Min      0 ->   600   0 -> 3   no sales before: no growth     not
  R4 Chen Jie   1,500 -> 1,500   0 -> 3   complaints from none           called out
  R5 Zhao Lei   3,000 -> 3,000   0 -> 2   too few complaints             not
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from orchestration.serving.labels import LABELS
from orchestration.serving.report_quality import complaints_rise_faster
from tests.support import needs_chromium, render_report_pages, write_report_pages
from tests.test_report import Page, make_fixture_warehouse

BEFORE = [date(2024, 9, 1), date(2024, 10, 1), date(2024, 11, 1)]
RECENT = [date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]
REPS = {  # rep: (name, monthly sales before, monthly sales recent, complaints before, complaints recent)
    "R1": ("Li Wei", 1000, 1000, [0, 1, 0], [1, 1, 1]),
    "R2": ("Wang Fang", 1000, 3000, [1, 0, 1], [2, 1, 1]),
    "R3": ("Zhang Min", 0, 200, [0, 0, 0], [1, 1, 1]),
    "R4": ("Chen Jie", 500, 500, [0, 0, 0], [1, 2, 0]),
    "R5": ("Zhao Lei", 1000, 1000, [0, 0, 0], [0, 1, 1]),
}
CALLED_OUT, NOT_CALLED_OUT = {"Li Wei", "Chen Jie"}, {"Wang Fang", "Zhang Min", "Zhao Lei"}
SECTION_KEYS = (
    "section_quality",
    "chart_quality_scatter",
    "quality_rule",
    "chart_quality_called_out",
    "quality_flagged",
    "quality_other",
    "quality_sales_recent",
    "quality_complaints_recent",
)


@pytest.mark.parametrize(
    "complaints_recent, complaints_before, sales_recent, sales_before, expected",
    [
        (3, 1, 3000, 3000, True),  # complaints x3, sales flat
        (4, 2, 9000, 3000, False),  # complaints x2, sales x3
        (4, 2, 6000, 3000, False),  # both x2: not faster
        (3, 0, 100, 1000, True),  # complaints from none, even while sales fall
        (2, 0, 1000, 1000, False),  # two complaints are too few to call a trend
        (3, 0, 600, 0, False),  # no sales before: nothing to compare with
        (3, 0, 0, 1000, True),  # sales stopped, complaints came
        (3, 3, 500, 1000, False),  # sales halved but complaints did not rise
    ],
)
def test_the_rise_faster_rule(complaints_recent, complaints_before, sales_recent, sales_before, expected):
    assert complaints_rise_faster(complaints_recent, complaints_before, sales_recent, sales_before) is expected


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("report_quality")
    warehouse = make_fixture_warehouse(base / "full.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from marts.mart_rep_kpi_monthly")
        for rep, (name, before, recent, c_before, c_recent) in REPS.items():
            for months, sales, complaints in ((BEFORE, before, c_before), (RECENT, recent, c_recent)):
                for month, n in zip(months, complaints):
                    con.execute(
                        "insert into marts.mart_rep_kpi_monthly (month, rep_id, rep_name, team_id, "
                        "gross_revenue, orders_count, complaints_opened) values (?, ?, ?, 'T1', ?, ?, ?)",
                        [month, rep, name, sales, 10 if sales else 0, n],
                    )
    return write_report_pages(warehouse, base, currency=None)


def _section_text(page: Page) -> dict[str, str]:
    return {name: page.charts[name]["text"] for name in ("quality_scatter", "quality_called_out")}


@needs_chromium
@pytest.mark.browser
def test_section_draws_in_both_languages_and_calls_out_the_right_reps(pages):
    rendered = {lang: Page(dom) for lang, dom in render_report_pages(pages).items()}
    for lang, page in rendered.items():
        assert LABELS[lang]["section_quality"] in page.headings, lang
        for name, chart in _section_text(page).items():
            full = page.charts[name]
            assert (full["svg"] or full["canvas"]) and not full["error"] and "Error" not in chart, (lang, name)
        called_out = page.charts["quality_called_out"]["text"]
        assert all(rep in called_out for rep in CALLED_OUT), (lang, called_out[:300])
        assert not any(rep in called_out for rep in NOT_CALLED_OUT), (lang, called_out[:300])
    zh_text = " ".join(_section_text(rendered["zh"]).values())
    for key in SECTION_KEYS:
        if key.startswith(("chart_", "quality_rule")):
            assert LABELS["zh"][key].split("{")[0] in zh_text, key
        assert LABELS["en"][key].split("{")[0] not in zh_text, key  # no English title, subtitle or legend
    assert "Complaints" not in zh_text and "Sales" not in zh_text


def test_section_without_sales_or_complaints_says_no_data(tmp_path):
    from orchestration.serving.report import load_report_data
    from orchestration.serving.report_quality import CHARTS

    warehouse = make_fixture_warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.mart_rep_kpi_monthly set gross_revenue = 0, complaints_opened = 0")
    data = load_report_data(warehouse)
    assert data.frames["quality_of_sale"].empty
    for _, build in CHARTS:
        spec = build(data, LABELS["zh"]).to_dict(validate=False)
        assert list(spec["datasets"].values()) == [[{"text": LABELS["zh"]["no_data"]}]]
