"""`unpivot:` in a source (ingestion/unpivot.py): a wide budget workbook (months across), a wide
targets sheet (`1月 ... 12月` and a year column) and stage history from "date entered" columns
load, with totals equal to the long form's and rows read = loaded + quarantined over the
unpivoted rows."""

from __future__ import annotations

import csv

import duckdb
import openpyxl
import pytest

from ingestion.loader import LOADED, REJECTED, ingest
from ingestion.profile import ProfileError, load_profile

PROFILE = r"""
name: wide
entities:
  budgets:
    - files: ["budget_wide.xlsx"]
      unpivot: {columns: '^\d{4}-\d{2}$', name: month_text, value: amount_text}
      columns: {month: month_text, team_id: Team, category: Category, budget_amount: amount_text}
    - files: ["budget_long.csv"]
      columns: {month: Month, team_id: Team, category: Category, budget_amount: Amount}
  targets:
    files: ["目标.csv"]
    unpivot: {columns: '^(\d+)月$', name: 月, value: 目标值}
    columns:
      month: {expr: "\"年度\" || '-' || lpad(\"月\", 2, '0')"}
      metric: {const: net_revenue}
      target_value: 目标值
      rep_id: 销售
  opportunity_stage_history:
    files: ["stages.csv"]
    unpivot: {columns: ["Date Entered Prospecting", "Date Entered Proposal"], name: stage_col, value: entered}
    columns:
      opportunity_id: Opportunity
      stage: {column: stage_col, values: {Date Entered Prospecting: prospecting, Date Entered Proposal: proposal}}
      entered_at: entered
"""
MONTHS = ["2025-01", "2025-02", "2025-03"]
WIDE = [["Team", "Category", *MONTHS], ["T1", "travel", 100, 200, 300], ["T2", "marketing", 50, None, "x"]]
# The same budget in long form, by hand: the empty cell is no row, 'x' is not a number.
LONG = [
    ["Month", "Team", "Category", "Amount"],
    ["2025-01", "T1", "travel", "100"],
    ["2025-02", "T1", "travel", "200"],
    ["2025-03", "T1", "travel", "300"],
    ["2025-01", "T2", "marketing", "50"],
]
TARGETS = [["销售", "年度", "1月", "2月", "12月"], ["R1", "2025", "10", "20", "30"], ["R2", "2025", "5", "", "7"]]
STAGES = [
    ["Opportunity", "Date Entered Prospecting", "Date Entered Proposal", "Owner"],
    ["O1", "2025-01-02 10:00:00", "2025-02-03 11:00:00", "R1"],
    ["O2", "2025-01-05 09:00:00", "", "R2"],
]


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("wide")
    landing = root / "landing"
    landing.mkdir()
    (root / "wide.yml").write_text(PROFILE, encoding="utf-8")
    book = openpyxl.Workbook()
    for row in WIDE:
        book.active.append(row)
    book.save(landing / "budget_wide.xlsx")
    write_csv(landing / "budget_long.csv", LONG)
    write_csv(landing / "目标.csv", TARGETS)
    write_csv(landing / "stages.csv", STAGES)
    result = ingest(landing, load_profile(root / "wide.yml"), root / "raw", root / "quality")
    return root, {f.file_path: f for f in result.files}


def query(root, sql):
    with duckdb.connect() as con:
        for entity in ("budgets", "targets", "opportunity_stage_history"):
            con.execute(f"create view {entity} as select * from read_parquet('{root / 'raw' / entity}/*.parquet')")
        return con.sql(sql).fetchall()


def test_wide_budget_rows_balance_and_equal_the_long_form(loaded):
    root, files = loaded
    wide = files["budget_wide.xlsx"]
    # 3 + 2 non-empty cells; 'x' is quarantined
    assert (wide.status, wide.rows_read, wide.rows_loaded, wide.rows_quarantined) == (LOADED, 5, 4, 1)
    per_file = query(
        root,
        "select _source_file, strftime(month, '%Y-%m'), team_id, category, budget_amount from budgets order by 2, 3",
    )
    wide_rows = [r[1:] for r in per_file if r[0] == "budget_wide.xlsx"]
    long_rows = [r[1:] for r in per_file if r[0] == "budget_long.csv"]
    assert wide_rows == long_rows and len(wide_rows) == 4
    assert sum(r[-1] for r in wide_rows) == 650


def test_quarantined_cell_names_its_column_and_keeps_its_row(loaded):
    root, _ = loaded
    with duckdb.connect() as con:
        ((row_number, reason, raw),) = con.sql(
            f"select row_number, reason, raw_record from read_parquet('{root}/quality/quarantine/*.parquet')"
        ).fetchall()
    assert row_number == 2 and reason == "budget_amount: cannot parse 'x' as number"
    assert '"month_text":"2025-03"' in raw.replace(" ", "") and '"Team":"T2"' in raw.replace(" ", "")


def test_targets_with_months_across_parse_the_month_from_the_header(loaded):
    root, files = loaded
    assert (files["目标.csv"].rows_read, files["目标.csv"].rows_loaded) == (5, 5)
    rows = query(root, "select rep_id, strftime(month, '%Y-%m'), target_value from targets order by 1, 2")
    assert rows == [
        ("R1", "2025-01", 10),
        ("R1", "2025-02", 20),
        ("R1", "2025-12", 30),
        ("R2", "2025-01", 5),
        ("R2", "2025-12", 7),
    ]


def test_stage_history_from_date_entered_columns(loaded):
    root, _ = loaded
    rows = query(
        root, "select opportunity_id, stage, strftime(entered_at, '%m-%d') from opportunity_stage_history order by 1, 3"
    )
    assert rows == [("O1", "prospecting", "01-02"), ("O1", "proposal", "02-03"), ("O2", "prospecting", "01-05")]


def test_file_without_a_matching_column_is_rejected(tmp_path):
    (tmp_path / "p.yml").write_text(PROFILE, encoding="utf-8")
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing / "目标.csv", [["销售", "年度", "Jan"], ["R1", "2025", "3"]])
    (outcome,) = ingest(landing, load_profile(tmp_path / "p.yml"), tmp_path / "raw", tmp_path / "q").files
    assert outcome.status == REJECTED and outcome.error == "目标.csv: no column to unpivot: none matches '^(\\d+)月$'"


@pytest.mark.parametrize(
    "unpivot, message",
    [
        ("{columns: '^(\\d+月$', name: a, value: b}", "bad regular expression"),
        ("{columns: [x], name: a}", "unpivot.value: must name"),
        ("{columns: 5, name: a, value: b}", "unpivot.columns: must be a regular expression or a list"),
    ],
)
def test_bad_unpivot_fails_when_the_profile_loads(tmp_path, unpivot, message):
    path = tmp_path / "bad.yml"
    path.write_text(
        PROFILE.replace("unpivot: {columns: '^(\\d+)月$', name: 月, value: 目标值}", f"unpivot: {unpivot}"),
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="entities.targets.unpivot") as err:
        load_profile(path)
    assert message in str(err.value)
