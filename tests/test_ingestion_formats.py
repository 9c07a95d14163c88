"""Non-canonical exports through small test profiles: encodings, Chinese headers, number and date
spellings, Excel workbooks, expressions, filters. Read correctly when the profile declares the
format; quarantined or rejected with a reason (never misread) when it does not."""

import json
import textwrap
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl

from ingestion.loader import ingest
from ingestion.profile import load_profile


def profile(tmp_path: Path, text: str, name: str = "test_profile"):
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_profile(path)


def run(tmp_path: Path, prof, landing: Path | None = None, **kw):
    return ingest(landing or tmp_path / "landing", prof, tmp_path / "raw", tmp_path / "quality", **kw)


def rows(tmp_path: Path, entity: str, columns: str):
    with duckdb.connect() as con:
        return con.execute(
            f"select {columns} from read_parquet('{tmp_path}/raw/{entity}/*.parquet') order by _batch_id, _row_number"
        ).fetchall()


def quarantined(tmp_path: Path):
    with duckdb.connect() as con:
        return con.execute(
            f"select row_number, reason, raw_record from read_parquet("
            f"'{tmp_path}/quality/quarantine/*.parquet') order by batch_id, row_number"
        ).fetchall()


CRM_ZH = """
name: crm_zh_test
defaults:
  encoding: gb18030
  thousands: ","
  currency_symbols: ["¥", "元"]
  date_formats: ["%Y/%m/%d", "%Y年%m月%d日"]
  timestamp_formats: ["%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日"]
entities:
  opportunities:
    files: ["商机*.csv"]
    format: csv
    columns:
      opportunity_id: 商机编号
      owner_rep_id: 负责人
      account_id: 客户名称
      stage:
        column: 阶段
        values:
          初步接洽: prospecting
          需求确认: qualification
          商务谈判: negotiation
          赢单: closed_won
          输单: closed_lost
      amount: 金额
      close_date: 预计成交日期
      created_at: 创建时间
      currency: {const: CNY}
"""

ZH_ROWS = (
    "商机编号,负责人,客户名称,阶段,金额,预计成交日期,创建时间\n"
    'K1,张三,北京星辰科技有限公司,初步接洽,"¥1,234.50",2024/3/5,2024/01/02 09:30\n'
    "K2,李四,上海海纳贸易,赢单,88元,2024年3月5日,2024年1月3日\n"
    "K3,王五,,谈判中,5,2024/2/30,\n"
)


def test_gb18030_export_with_chinese_headers(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "商机导出.csv").write_bytes(ZH_ROWS.encode("gb18030"))
    (outcome,) = run(tmp_path, profile(tmp_path, CRM_ZH)).files
    assert (outcome.file_path, outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        "商机导出.csv",
        "loaded",
        3,
        2,
        1,
    )
    columns = "opportunity_id, owner_rep_id, account_id, stage, amount, close_date, created_at, currency, _profile"
    assert rows(tmp_path, "opportunities", columns) == [
        (
            "K1",
            "张三",
            "北京星辰科技有限公司",
            "prospecting",
            Decimal("1234.50"),
            date(2024, 3, 5),
            datetime(2024, 1, 2, 9, 30),
            "CNY",
            "crm_zh_test",
        ),
        (
            "K2",
            "李四",
            "上海海纳贸易",
            "closed_won",
            Decimal("88.00"),
            date(2024, 3, 5),
            datetime(2024, 1, 3),
            "CNY",
            "crm_zh_test",
        ),
    ]
    ((row_number, reason, raw),) = quarantined(tmp_path)
    assert row_number == 3
    assert reason == (
        "stage: '谈判中' not in (prospecting, qualification, needs_analysis, proposal, negotiation, "
        "closed_won, closed_lost); close_date: cannot parse '2024/2/30' as date"
    )
    assert json.loads(raw) == {
        "商机编号": "K3",
        "负责人": "王五",
        "客户名称": None,
        "阶段": "谈判中",
        "金额": "5",
        "预计成交日期": "2024/2/30",
        "创建时间": None,
    }


def test_gb18030_file_read_as_utf8_is_rejected_not_misread(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "商机导出.csv").write_bytes(ZH_ROWS.encode("gb18030"))
    undeclared = profile(tmp_path, CRM_ZH.replace("encoding: gb18030", "encoding: utf-8"))
    (outcome,) = run(tmp_path, undeclared).files
    assert outcome.status == "rejected"
    assert outcome.error == "商机导出.csv: not utf-8 encoded: declare the file's encoding in the profile"
    assert not (tmp_path / "raw" / "opportunities").exists()


def test_utf16_tab_separated_export(tmp_path):
    (tmp_path / "landing").mkdir()
    text = "团队编号\t团队名称\tregion\nT1\t华东一组\t华东\nT2\t华南组\t华南\n"
    (tmp_path / "landing" / "teams.tsv").write_bytes(text.encode("utf-16"))
    prof = profile(
        tmp_path,
        """
        entities:
          teams:
            files: teams.tsv
            encoding: utf-16
            columns: {team_id: 团队编号, team_name: 团队名称, region: region}
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 2)
    assert rows(tmp_path, "teams", "team_id, team_name, region") == [
        ("T1", "华东一组", "华东"),
        ("T2", "华南组", "华南"),
    ]


EXPENSES = """
entities:
  expenses:
    files: ["expenses/*.csv"]
    columns_by_name: true
"""
EXPENSES_CSV = (
    'expense_id,expense_date,team_id,category,amount\nE1,45000,T1,travel,"¥1,234.50"\nE2,2024-02-29,T1,tools,-3\n'
)


def test_thousands_currency_symbol_and_excel_serial_when_declared(tmp_path):
    (tmp_path / "landing" / "expenses").mkdir(parents=True)
    (tmp_path / "landing" / "expenses" / "e.csv").write_text(EXPENSES_CSV, encoding="utf-8")
    declared = profile(
        tmp_path,
        EXPENSES
        + """
    thousands: ","
    currency_symbols: ["¥"]
    date_formats: ["%Y-%m-%d", excel]
""",
    )
    (outcome,) = run(tmp_path, declared).files
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 0)
    excel_day = date(1899, 12, 30) + timedelta(days=45000)  # Excel's (1900 system) day zero
    assert rows(tmp_path, "expenses", "expense_id, expense_date, amount") == [
        ("E1", excel_day, Decimal("1234.50")),
        ("E2", date(2024, 2, 29), Decimal("-3.00")),
    ]


def test_thousands_currency_symbol_and_excel_serial_quarantined_when_not_declared(tmp_path):
    (tmp_path / "landing" / "expenses").mkdir(parents=True)
    (tmp_path / "landing" / "expenses" / "e.csv").write_text(EXPENSES_CSV, encoding="utf-8")
    (outcome,) = run(tmp_path, profile(tmp_path, EXPENSES)).files
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (2, 1, 1)
    assert [(n, r) for n, r, _ in quarantined(tmp_path)] == [
        (1, "expense_date: cannot parse '45000' as date; amount: cannot parse '¥1,234.50' as number")
    ]


def test_decimal_comma_semicolon_delimiter_and_null_values(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "produkte.csv").write_text(
        "Artikel;Name;Preis;Kosten\nA1;Schraube;1.234,50;n/a\nA2;Mutter;0,99;0,5\n", encoding="latin-1"
    )
    prof = profile(
        tmp_path,
        """
        entities:
          products:
            files: produkte.csv
            encoding: latin-1
            delimiter: ";"
            decimal: ","
            thousands: "."
            null_values: ["n/a"]
            columns: {product_id: Artikel, product_name: Name, list_price: Preis, unit_cost: Kosten}
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (2, 0)
    assert rows(tmp_path, "products", "product_id, list_price, unit_cost") == [
        ("A1", Decimal("1234.5000"), None),
        ("A2", Decimal("0.9900"), Decimal("0.5000")),
    ]


def test_salesforce_style_stage_expression_filter_const_default_and_optional(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "Opportunity.csv").write_text(
        "Id,OwnerId,StageName,IsClosed,IsWon,Amount,CloseDate,Name\n"
        "006A,005X,Prospecting,false,false,100,2024-05-01,Deal A\n"
        "006B,005X,Closed Won,true,true,250.5,2024-05-02,Deal B\n"
        "006C,005Y,Something Custom,true,false,,2024-05-03,Deal C\n"
        "006T,005Y,Prospecting,false,false,1,2024-05-04,TEST deal\n"
        "006D,005Y,Proposal/Price Quote,false,false,7,,Deal D\n",
        encoding="utf-8",
    )
    prof = profile(
        tmp_path,
        """
        name: salesforce_test
        entities:
          opportunities:
            files: ["Opportunity*.csv"]
            filter: "\\"Name\\" not like 'TEST%'"
            columns:
              opportunity_id: Id
              owner_rep_id: OwnerId
              stage:
                expr: >-
                  case when "IsWon" = 'true' then 'closed_won'
                       when "IsClosed" = 'true' then 'closed_lost'
                       else "StageName" end
                values: {Prospecting: prospecting, "Proposal/Price Quote": proposal}
              amount: {column: Amount, default: "0"}
              close_date: CloseDate
              lost_reason: {column: Loss_Reason__c, optional: true}
              currency: {const: CNY}
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    # The TEST row is filtered out by the profile: not read, so not loaded nor quarantined.
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (4, 4, 0)
    columns = "opportunity_id, stage, amount, close_date, lost_reason, currency, _row_number"
    assert rows(tmp_path, "opportunities", columns) == [
        ("006A", "prospecting", Decimal("100.00"), date(2024, 5, 1), None, "CNY", 1),
        ("006B", "closed_won", Decimal("250.50"), date(2024, 5, 2), None, "CNY", 2),
        ("006C", "closed_lost", Decimal("0.00"), date(2024, 5, 3), None, "CNY", 3),
        ("006D", "proposal", Decimal("7.00"), None, None, "CNY", 5),
    ]


def test_a_column_the_expression_needs_is_missing_so_the_file_is_rejected(tmp_path):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "Opportunity.csv").write_text("Id,OwnerId,StageName\n006A,005X,Prospecting\n")
    prof = profile(
        tmp_path,
        """
        entities:
          opportunities:
            files: Opportunity.csv
            columns:
              opportunity_id: Id
              owner_rep_id: OwnerId
              stage: {expr: "case when \\"IsWon\\" = 'true' then 'closed_won' else lower(\\"StageName\\") end"}
              amount: Amount
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    assert outcome.status == "rejected"
    # Amount only feeds an optional column: it alone would load as NULL (exports.md, "Bad input")
    assert outcome.error == "Opportunity.csv: missing column 'IsWon' (used by the expression for stage)"


def test_xlsx_sheet_by_name_header_row_and_serial_dates(tmp_path):
    path = tmp_path / "landing" / "targets.xlsx"
    path.parent.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["this sheet is not the data"])
    sheet = workbook.create_sheet("Targets 2025")
    sheet.append(["Sales targets 2025"])  # a title row, then a blank row, then the header
    sheet.append([])
    sheet.append(["Month", "Metric", "Target", "Rep", "Team"])
    sheet.append([45658, "net_revenue", 100000, None, "T1"])  # serial 45658 = 2025-01-01
    sheet.append([datetime(2025, 2, 1), "visits", 40, "R1", None])
    sheet.append(["2025-03", "visits", 40, "R1", "T1"])  # rule: both set
    workbook.save(path)
    prof = profile(
        tmp_path,
        """
        entities:
          targets:
            files: targets.xlsx
            sheet: Targets 2025
            header_row: 3
            month_formats: ["%Y-%m", "%Y-%m-%d", excel]
            columns: {month: Month, metric: Metric, target_value: Target, rep_id: Rep, team_id: Team}
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == ("loaded", 3, 2, 1)
    assert date(1899, 12, 30) + timedelta(days=45658) == date(2025, 1, 1)
    assert rows(tmp_path, "targets", "month, metric, target_value, rep_id, team_id") == [
        (date(2025, 1, 1), "net_revenue", Decimal("100000.00"), None, "T1"),
        (date(2025, 2, 1), "visits", Decimal("40.00"), "R1", None),
    ]
    assert [(n, r) for n, r, _ in quarantined(tmp_path)] == [(3, "exactly one of rep_id, team_id must be set")]


def test_missing_sheet_is_rejected_with_its_name(tmp_path):
    path = tmp_path / "landing" / "budget.xlsx"
    path.parent.mkdir(parents=True)
    workbook = openpyxl.Workbook()
    workbook.active.append(["month", "team_id", "category", "budget_amount"])
    workbook.save(path)
    prof = profile(
        tmp_path,
        """
        entities:
          budgets:
            files: budget.xlsx
            sheet: Budget
            columns: {month: month, team_id: team_id, category: category, budget_amount: budget_amount}
    """,
    )
    (outcome,) = run(tmp_path, prof).files
    assert outcome.status == "rejected"
    assert outcome.error.startswith("budget.xlsx: cannot read sheet 'Budget' of the workbook")


def test_symlink_leading_out_of_the_landing_folder_is_not_read(tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("team_id\nT1\n")
    (tmp_path / "landing" / "teams").mkdir(parents=True)
    (tmp_path / "landing" / "teams" / "t.csv").symlink_to(outside)
    assert run(tmp_path, "canonical").files == []


def test_hidden_and_office_lock_files_are_not_exports(tmp_path):
    teams = tmp_path / "landing" / "teams"
    teams.mkdir(parents=True)
    (teams / "t.csv").write_text("team_id\nT1\n")
    (teams / ".t.csv").write_text("team_id\nHIDDEN\n")
    (teams / "~$budget.xlsx").write_bytes(b"lock")
    assert [(f.file_path, f.status) for f in run(tmp_path, "canonical").files] == [("teams/t.csv", "loaded")]


def test_a_folder_pattern_reads_its_files_and_a_rejected_file_is_retried_after_the_profile_is_fixed(tmp_path):
    folder = tmp_path / "landing" / "exports" / "team list"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("Team,Region\nT1,East\n")
    (folder / "notes.txt").write_text("not an export")
    broken = profile(
        tmp_path,
        """
        entities:
          teams:
            files: "exports/team list"
            columns: {team_id: TeamId, region: Region}
    """,
    )
    (first,) = run(tmp_path, broken).files
    assert (first.file_path, first.status, first.error) == (
        "exports/team list/a.csv",
        "rejected",
        "exports/team list/a.csv: missing column 'TeamId' (mapped to team_id)",
    )
    fixed = profile(
        tmp_path,
        """
        entities:
          teams:
            files: "exports/team list"
            columns: {team_id: Team, region: Region}
    """,
    )
    (second,) = run(tmp_path, fixed).files
    assert (second.status, second.rows_loaded) == ("loaded", 1)
    assert rows(tmp_path, "teams", "team_id, region") == [("T1", "East")]
