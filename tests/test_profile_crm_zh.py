"""The `crm_zh` profile on a Chinese CRM export: `salesdw generate --flavor zh` writes the demo
company with Chinese file names and headers, GB18030, `¥1,234.50` amounts, `年月日`/slash dates and
Chinese codes; the profile reads it back to exactly the canonical data. Checked here: the files'
shape against the canonical CSVs (restyled with plain Python), every row loading, the raw zone equal
to the canonical flavor's, every mart of `salesdw run` on the zh export equal row for row to the
canonical flavor's, dirty mode's outcomes, and a small hand-written GB18030 export typed value by value.

The canonical flavor is the session's demo (`demo_run`: same scale, seed and months): its exports,
its raw zone and its published marts are the reference, so no second canonical build is made."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from demo import generate
from ingestion.canonical import ENTITIES
from ingestion.loader import ingest
from orchestration.settings import get_settings
from tests.conftest import DEMO_MONTHS, DEMO_SCALE, DEMO_SEED, salesdw

ZH_FILES = {  # entity -> the file the zh flavor writes
    "teams": "销售团队.csv",
    "reps": "销售人员.csv",
    "accounts": "客户.csv",
    "contacts": "联系人.csv",
    "leads": "线索.csv",
    "opportunities": "商机.xlsx",
    "opportunity_stage_history": "商机阶段记录.csv",
    "activities": "跟进记录.csv",
    "cases": "客服工单.csv",
    "products": "产品.csv",
    "orders": "销售订单.csv",
    "order_lines": "订单明细.csv",
    "returns": "退货记录.csv",
    "survey_responses": "客户满意度调查.csv",
    "budgets": "费用预算.xlsx",
    "expenses": "费用报销.csv",
    "targets": "销售目标.xlsx",
    "fx_rates": "汇率.csv",
}


SCALE, SEED, MONTHS = DEMO_SCALE, DEMO_SEED, DEMO_MONTHS  # the session demo's company


@pytest.fixture(scope="module")
def flavors(tmp_path_factory, demo_run):
    """The demo company in both flavors: the canonical one is the session's demo (generated and run
    by conftest), the zh one written by the real CLI into <data>/landing/crm_zh (the folder name
    selects the profile) and ingested with its profile."""
    assert demo_run.exit_code == 0, demo_run.output
    root = tmp_path_factory.mktemp("crm_zh")
    zh_dir = root / "zh" / "landing" / "crm_zh"
    gen = salesdw(
        "generate",
        "--flavor",
        "zh",
        "--out",
        str(zh_dir),
        "--scale",
        str(SCALE),
        "--seed",
        str(SEED),
        "--months",
        str(MONTHS),
        data_dir=root / "zh",
    )
    assert gen.returncode == 0, gen.stdout + gen.stderr
    # the raw-zone comparison ingests into a scratch dir; the slow test runs the CLI on root / "zh"
    zh = ingest(zh_dir, "crm_zh", root / "zh_ingest" / "raw", root / "zh_ingest" / "quality")
    (root / "canonical").symlink_to(demo_run.data_dir)  # read only: its raw zone and published marts
    return root, zh_dir, demo_run.exports, zh


def canonical_rows(folder: Path, entity: str) -> pd.DataFrame:
    return pd.read_csv(folder / entity / f"{entity}.csv", dtype=str, keep_default_na=False)


def zh_rows(folder: Path, entity: str) -> pd.DataFrame:
    return pd.read_csv(folder / ZH_FILES[entity], dtype=str, keep_default_na=False, encoding="gb18030")


def slash_date(text: str) -> str:
    d = date.fromisoformat(text)
    return f"{d.year}/{d.month}/{d.day}"


def cn_date(text: str) -> str:
    d = date.fromisoformat(text)
    return f"{d.year}年{d.month}月{d.day}日"


def yuan(text: str, sign: str = "¥") -> str:
    return f"{sign}{Decimal(text):,.2f}" if text else ""


# --- the files --------------------------------------------------------------------------------
def test_the_zh_flavor_writes_one_chinese_named_file_per_entity(flavors):
    _, zh_dir, _, _ = flavors
    manifest = json.loads((zh_dir / "_manifest.json").read_text(encoding="utf-8"))
    # besides, the reps as they stood at month ends (those of the months with a change), dated by name
    month_ends = [d.date().isoformat() for d in pd.date_range("2024-01", periods=MONTHS, freq="ME")][:-1]
    dated = [p.name for p in zh_dir.glob("销售人员_*.csv")]
    assert dated and {name[5:15] for name in dated} <= set(month_ends)
    assert sorted(p.name for p in zh_dir.iterdir()) == sorted([*ZH_FILES.values(), *dated, "_manifest.json"])
    assert {r["entity"]: r["file"] for r in manifest["files"] if r["file"] not in dated} == ZH_FILES
    assert sorted(r["file"] for r in manifest["files"] if r["entity"] == "reps") == sorted([ZH_FILES["reps"], *dated])
    assert manifest["profile"] == "crm_zh" and manifest["parameters"]["flavor"] == "zh"
    raw = (zh_dir / "客户.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert (
        raw.decode("gb18030").splitlines()[0]
        == "客户编号,客户名称,所属行业,所属大区,城市,负责人,创建时间,客户来源,生效日期"
    )
    assert raw.endswith(b"\r\n")


def test_values_are_the_canonical_values_in_chinese_styles(flavors):
    _, zh_dir, canonical_dir, _ = flavors
    orders, zh_orders = canonical_rows(canonical_dir, "orders"), zh_rows(zh_dir, "orders")
    assert list(zh_orders.订单编号) == list(orders.order_id)
    assert list(zh_orders.下单日期) == [slash_date(d) for d in orders.order_date]
    status = {"completed": "已完成", "cancelled": "已取消", "pending": "待发货"}
    assert list(zh_orders.订单状态) == [status[s] for s in orders.status]
    assert set(zh_orders.币种) == {"人民币"}

    lines, zh_lines = canonical_rows(canonical_dir, "order_lines"), zh_rows(zh_dir, "order_lines")
    assert list(zh_lines.单价) == [yuan(p) for p in lines.unit_price]
    assert list(zh_lines.折扣金额) == [yuan(p) for p in lines.discount_amount]
    assert any("," in p for p in zh_lines.单价), "some unit prices need a thousands separator"

    expenses, zh_expenses = canonical_rows(canonical_dir, "expenses"), zh_rows(zh_dir, "expenses")
    assert list(zh_expenses.报销金额) == [yuan(a, "￥") for a in expenses.amount]
    assert list(zh_expenses.费用日期) == [cn_date(d) for d in expenses.expense_date]

    # accounts migrated from the old system (created before the period) keep its 年月日 style
    accounts, zh_accounts = canonical_rows(canonical_dir, "accounts"), zh_rows(zh_dir, "accounts")
    expected = []
    for text in accounts.created_at:
        t = datetime.fromisoformat(text)
        day = f"{t.year}年{t.month}月{t.day}日" if t < datetime(2024, 1, 1) else f"{t.year}/{t.month}/{t.day}"
        expected.append(f"{day} {t:%H:%M:%S}")
    assert list(zh_accounts.创建时间) == expected
    assert any("年" in v for v in expected) and any("/" in v for v in expected)

    reps, zh_reps = canonical_rows(canonical_dir, "reps"), zh_rows(zh_dir, "reps")
    assert list(zh_reps.是否在职) == [{"active": "是", "inactive": "否"}[s] for s in reps.status]


def test_workbooks_hold_typed_cells_and_a_title_block(flavors):
    _, zh_dir, canonical_dir, _ = flavors
    opportunities = canonical_rows(canonical_dir, "opportunities")
    workbook = pd.read_excel(zh_dir / "商机.xlsx", sheet_name="商机", dtype=object)
    amounts = [None if pd.isna(v) else Decimal(str(v)).quantize(Decimal("0.01")) for v in workbook.金额]
    assert amounts == [Decimal(a) if a else None for a in opportunities.amount]
    assert all(isinstance(v, datetime) for v in workbook.预计成交日期.dropna())  # real date cells
    stage = {
        "prospecting": "初步接洽",
        "qualification": "需求确认",
        "needs_analysis": "需求分析",
        "proposal": "方案报价",
        "negotiation": "商务谈判",
        "closed_won": "赢单",
        "closed_lost": "输单",
    }
    assert list(workbook.商机阶段) == [stage[s] for s in opportunities.stage]
    budgets = pd.read_excel(zh_dir / "费用预算.xlsx", header=None, dtype=object)
    assert budgets.iloc[0, 0] == "星海科技 销售费用预算（按月）"
    long = pd.read_excel(canonical_dir / "budgets" / "budgets.xlsx", dtype=object)
    months = sorted({str(m)[:7] for m in long.month})
    # header on row 4, the months across; the wide total is the long form's
    assert list(budgets.iloc[3]) == ["团队编号", "费用类别", "币种"] + [f"{m[:4]}年{int(m[5:])}月" for m in months]
    cells = budgets.iloc[4:, 3:].stack()
    assert len(cells) == len(long) and sum(Decimal(str(v)) for v in cells) == sum(
        Decimal(str(v)) for v in long.budget_amount
    )


# --- ingestion --------------------------------------------------------------------------------
def test_every_zh_row_loads(flavors):
    _, zh_dir, _, result = flavors
    manifest = json.loads((zh_dir / "_manifest.json").read_text(encoding="utf-8"))
    got = {(f.file_path, f.entity): (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files}
    assert got == {(r["file"], r["entity"]): ("loaded", r["rows"], r["rows"], 0) for r in manifest["files"]}


def test_raw_zone_equals_the_canonical_flavors(flavors):
    root, _, _, _ = flavors
    with duckdb.connect() as con:
        for name, ent in ENTITIES.items():
            cols = ", ".join(ent.column_names)
            zh, canonical = (
                f"(select {cols} from read_parquet('{root / side / 'raw' / name}/*.parquet'))"
                for side in ("zh_ingest", "canonical")
            )
            [(n,)] = con.execute(f"select count(*) from {canonical}").fetchall()
            [(missing, extra)] = con.execute(
                f"select (select count(*) from ({canonical} except all {zh})), "
                f"(select count(*) from ({zh} except all {canonical}))"
            ).fetchall()
            assert n > 0 and (missing, extra) == (0, 0), name


@pytest.mark.slow
def test_every_mart_equals_the_canonical_flavors_row_for_row(flavors):
    """zh: `salesdw run` (ingest, dbt build, checks, publish); canonical: the session demo's publish."""
    root, _, _, _ = flavors
    run = salesdw("run", data_dir=root / "zh")
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    with duckdb.connect() as con:
        con.execute(f"attach '{get_settings(root / 'canonical').serving_warehouse}' as canonical (read_only)")
        con.execute(f"attach '{get_settings(root / 'zh').serving_warehouse}' as zh (read_only)")
        [(profile,)] = con.execute("select string_agg(distinct profile) from zh.quality.ingestion_ledger").fetchall()
        assert profile == "crm_zh"
        tables = {
            db: [
                t
                for (t,) in con.execute(
                    "select table_name from duckdb_tables()"
                    " where database_name = ? and schema_name = 'marts' order by 1",
                    [db],
                ).fetchall()
            ]
            for db in ("canonical", "zh")
        }
        assert tables["zh"] == tables["canonical"] and len(tables["zh"]) >= 11
        for table in tables["zh"]:
            # doubles compared to 1e-9: float sums may add in another order in another build
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where database_name = 'canonical' "
                "and schema_name = 'marts' and table_name = ? order by column_index",
                [table],
            ).fetchall()
            cols = ", ".join(f"round({c}, 9) as {c}" if t in ("DOUBLE", "FLOAT") else c for c, t in columns)
            [(rows, missing, extra)] = con.execute(
                f"select (select count(*) from canonical.marts.{table}), "
                f"(select count(*) from (select {cols} from canonical.marts.{table} except all "
                f"select {cols} from zh.marts.{table})), "
                f"(select count(*) from (select {cols} from zh.marts.{table} except all "
                f"select {cols} from canonical.marts.{table}))"
            ).fetchall()
            assert rows > 0 and (missing, extra) == (0, 0), table


# --- dirty mode -------------------------------------------------------------------------------
def test_dirty_zh_export_gets_the_outcomes_its_manifest_lists(tmp_path):
    out = tmp_path / "crm_zh"
    generate(out, scale=0.02, seed=3, months=6, dirty=True, flavor="zh")
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    result = ingest(out, "crm_zh", tmp_path / "raw", tmp_path / "quality")
    got = {f.file_path: (f.status, f.rows_read, f.rows_loaded, f.rows_quarantined) for f in result.files}
    expected = {
        r["file"]: tuple(r["expected"][k] for k in ("status", "rows_read", "rows_loaded", "rows_quarantined"))
        for r in manifest["files"]
    }
    assert got == expected
    assert {"销售订单_缺列.csv", "跟进记录_导出.csv", "费用预算_损坏.xlsx", "线索_空.csv"} == {
        f for f, outcome in got.items() if outcome[0] == "rejected"
    }
    with duckdb.connect() as con:
        quarantined = con.execute(
            f"select file_path, row_number, reason from read_parquet('{tmp_path}/quality/quarantine/*.parquet')"
        ).fetchall()
    wanted = {
        (d["file"], d["row_number"]): d["reason_keyword"] for d in manifest["defects"] if d["outcome"] == "quarantined"
    }
    assert {(f, r) for f, r, _ in quarantined} == set(wanted)
    assert all(
        reason.startswith(wanted[(f, r)] + ":") or f"{wanted[(f, r)]}: " in reason for f, r, reason in quarantined
    )


# --- a hand-written export --------------------------------------------------------------------
def write_gb18030(path: Path, rows: list[list[str]]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    path.write_bytes(text.getvalue().encode("gb18030"))


def test_hand_written_gb18030_export_is_typed_exactly(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_gb18030(
        landing / "销售订单.csv",
        [
            ["订单编号", "客户编号", "销售代表", "关联商机", "下单日期", "订单状态", "销售渠道", "币种"],
            ["SO1", "A1", "R1", "", "2024/3/5", "已完成", "直销", "人民币"],
            ["SO2", "A2", "-", "", "2024年12月31日", "待发货", "经销商", "RMB"],
            ["SO3", "A3", "R2", "", "2024.1.9", "已取消", "微信商城", "CNY"],
            ["SO4", "A4", "R2", "", "2024/2/30", "已完成", "直销", "美元"],
        ],
    )
    write_gb18030(
        landing / "订单明细.csv",
        [
            ["订单编号", "行号", "产品编号", "数量", "单价", "折扣金额"],
            ["SO1", "1", "P1", "3", "¥1,234.50", "￥100"],
            ["SO1", "2", "P2", "1,200", "12,345.60元", "—"],
        ],
    )
    write_gb18030(
        landing / "客服工单.csv",
        [
            [
                "工单编号",
                "客户编号",
                "创建时间",
                "工单类型",
                "紧急程度",
                "来源渠道",
                "处理人",
                "首次响应时间",
                "解决时间",
                "工单状态",
            ],
            [
                "C1",
                "A1",
                "2024年3月5日 14:30",
                "投诉",
                "高",
                "微信",
                "R1",
                "2024/3/5 15:00:30",
                "2024-03-06 09:15",
                "已解决",
            ],
        ],
    )
    # the same orders saved as UTF-8 by mistake: rejected (never read as GB18030 mojibake)
    (landing / "销售订单_utf8.csv").write_bytes(
        "订单编号,客户编号,下单日期,订单状态\r\nSO9,A9,2024/3/5,已完成\r\n".encode("utf-8")
    )
    result = ingest(landing, "crm_zh", tmp_path / "raw", tmp_path / "quality")
    outcomes = {f.file_path: (f.status, f.rows_loaded, f.rows_quarantined) for f in result.files}
    assert outcomes["销售订单.csv"] == ("loaded", 3, 1)
    assert outcomes["订单明细.csv"] == ("loaded", 2, 0)
    assert outcomes["客服工单.csv"] == ("loaded", 1, 0)
    assert outcomes["销售订单_utf8.csv"] == ("rejected", 0, 0)
    assert next(f.error for f in result.files if f.file_path == "销售订单_utf8.csv").startswith("销售订单_utf8.csv: ")

    def raw(entity: str, sql: str):
        with duckdb.connect() as con:
            con.execute(f"create view t as from read_parquet('{tmp_path}/raw/{entity}/*.parquet')")
            return con.execute(sql).fetchall()

    assert raw("orders", "select order_id, rep_id, order_date, status, channel, currency from t order by 1") == [
        ("SO1", "R1", date(2024, 3, 5), "completed", "direct_sales", "CNY"),
        ("SO2", None, date(2024, 12, 31), "pending", "distributor", "CNY"),
        ("SO3", "R2", date(2024, 1, 9), "cancelled", "wechat_mall", "CNY"),
    ]
    assert raw("order_lines", "select line_number, quantity, unit_price, discount_amount from t order by 1") == [
        (1, Decimal("3"), Decimal("1234.5"), Decimal("100")),
        (2, Decimal("1200"), Decimal("12345.6"), None),
    ]
    assert raw(
        "cases", "select opened_at, first_response_at, resolved_at, category, severity, channel, status from t"
    ) == [
        (
            datetime(2024, 3, 5, 14, 30),
            datetime(2024, 3, 5, 15, 0, 30),
            datetime(2024, 3, 6, 9, 15),
            "complaint",
            "high",
            "wechat",
            "resolved",
        )
    ]
    with duckdb.connect() as con:
        [(file, row_number, reason)] = con.execute(
            f"select file_path, row_number, reason from read_parquet('{tmp_path}/quality/quarantine/*.parquet')"
        ).fetchall()
    assert (file, row_number) == ("销售订单.csv", 4)
    assert reason == "order_date: cannot parse '2024/2/30' as date"  # 美元 is USD: converted in staging
