"""`generate(..., flavor="zh")`: the demo company's exports as a Chinese CRM hands them over, read
back by the `crm_zh` profile (ingestion/profiles/crm_zh.yml).

The canonical exports are generated first, so both flavors hold the same company row for row, and
every file is then rewritten in the shape of a typical Chinese CRM/ERP export:
- one file per entity directly in the output folder, named in Chinese (`商机.xlsx`, `销售订单.csv`);
- Chinese column headers; CSV in GB18030 (what Excel on a Chinese Windows writes);
- amounts `¥1,234.50` (thousands separators, currency sign; the finance export uses `￥`);
- dates `2024/3/5` or `2024年3月5日`, timestamps `2024/3/5 14:30:05` or `2024年3月5日 14:30:05`
  (seconds kept, so the marts equal the canonical flavor's); accounts migrated from the old
  system (created before the period) keep its `年月日` style inside the same column;
- Chinese stage, status, category and channel names, `是`/`否` for yes/no;
- `商机.xlsx` with number cells for amounts and date cells for close dates, `费用预算.xlsx` with a
  title block above the header (header on row 4) and the months across (wide_budget.py),
  `销售目标.xlsx` with month date cells.
Values that are not well-formed canonical text (dirty mode's bad rows) are written unchanged, so
they reach the warehouse as broken as they were meant to be.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable

import duckdb
import xlsxwriter

from demo import output as out
from demo.exports import read_manifest, write_manifest
from demo.wide_budget import write_wide_budget
from ingestion.profile import SourceSpec, quote_ident, quote_literal
from ingestion.readers import ROW_NUMBER, open_source

PROFILE = "crm_zh"
ENCODING = "gb18030"
_BATCH_ROWS = 100_000
_NUMERIC_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_CANONICAL_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%d %H:%M:%S", "month": "%Y-%m"}


# --- value styles -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """Written as the canonical text."""

    def sql(self, v: str, period_start: str) -> str:
        return v


@dataclass(frozen=True)
class Choice:
    """Canonical codes written as Chinese names (unknown values unchanged)."""

    names: dict[str, str]

    def sql(self, v: str, period_start: str) -> str:
        cases = " ".join(f"when {quote_literal(k)} then {quote_literal(n)}" for k, n in self.names.items())
        return f"(case {v} {cases} else {v} end)"


@dataclass(frozen=True)
class Amount:
    """`¥1,234.50`; in a workbook a number cell shown as currency."""

    symbol: str = "¥"

    def sql(self, v: str, period_start: str) -> str:
        sign = f"(case when {v} like '-%' then '-' else '' end)"
        number = f"format('{{:,.2f}}', abs(cast({v} as decimal(18, 2))))"
        return (
            f"(case when regexp_full_match({v}, '-?[0-9]+\\.[0-9]{{2}}') "
            f"then {sign} || {quote_literal(self.symbol)} || {number} else {v} end)"
        )


@dataclass(frozen=True)
class Number:
    """Written as the canonical text; in a workbook a number cell."""

    def sql(self, v: str, period_start: str) -> str:
        return v


@dataclass(frozen=True)
class Moment:
    """A date, timestamp or month in a Chinese style (strftime); `legacy` is the style of values
    before the period start (records migrated from the old system)."""

    kind: str  # date | timestamp | month
    style: str
    legacy: str | None = None
    excel_cell: bool = False  # in a workbook: a real date cell

    def sql(self, v: str, period_start: str) -> str:
        parsed = f"try_strptime({v}, {quote_literal(_CANONICAL_FORMATS[self.kind])})"
        text = f"strftime({parsed}, {quote_literal(self.style)})"
        if self.legacy:
            text = (
                f"(case when {parsed} < date {quote_literal(period_start)} "
                f"then strftime({parsed}, {quote_literal(self.legacy)}) else {text} end)"
            )
        return f"(case when {parsed} is not null then {text} else {v} end)"


Style = Text | Choice | Amount | Number | Moment
TEXT = Text()
NUMBER = Number()
AMOUNT = Amount()
DATE_SLASH = Moment("date", "%Y/%-m/%-d")
DATE_CN = Moment("date", "%Y年%-m月%-d日")
TS_SLASH = Moment("timestamp", "%Y/%-m/%-d %H:%M:%S")
TS_CN = Moment("timestamp", "%Y年%-m月%-d日 %H:%M:%S")
TS_ISO = Moment("timestamp", "%Y-%m-%d %H:%M:%S")

# Chinese names of the canonical codes; crm_zh.yml maps them back.
STAGES = {
    "prospecting": "初步接洽",
    "qualification": "需求确认",
    "needs_analysis": "需求分析",
    "proposal": "方案报价",
    "negotiation": "商务谈判",
    "closed_won": "赢单",
    "closed_lost": "输单",
}
LEAD_SOURCES = {
    "website": "官网",
    "referral": "客户转介绍",
    "trade_show": "展会",
    "cold_call": "电话陌拜",
    "partner": "合作伙伴",
    "wechat": "微信",
    "online_ads": "网络广告",
}
LEAD_STATUSES = {
    "new": "新线索",
    "working": "跟进中",
    "qualified": "已确认",
    "unqualified": "无效",
    "converted": "已转化",
}
ACTIVITY_TYPES = {"call": "电话", "visit": "拜访", "meeting": "会议", "email": "邮件", "demo": "产品演示"}
DIRECTIONS = {"outbound": "发出", "inbound": "收到"}
CASE_CATEGORIES = {"complaint": "投诉", "inquiry": "咨询", "return": "退换货", "technical": "技术支持"}
SEVERITIES = {"low": "低", "medium": "中", "high": "高"}
CASE_CHANNELS = {"phone": "电话", "email": "邮件", "wechat": "微信", "web": "网页"}
CASE_STATUSES = {"open": "待处理", "in_progress": "处理中", "resolved": "已解决"}
ORDER_STATUSES = {"completed": "已完成", "cancelled": "已取消", "pending": "待发货"}
ORDER_CHANNELS = {
    "direct_sales": "直销",
    "online_store": "网上商城",
    "distributor": "经销商",
    "wechat_mall": "微信商城",
}
SURVEY_TYPES = {"nps": "NPS净推荐值", "csat": "CSAT满意度"}
EXPENSE_CATEGORIES = {
    "personnel": "人力成本",
    "marketing": "市场推广",
    "incentives": "销售激励",
    "travel": "差旅费",
    "training": "培训费",
    "tools": "软件工具",
    "other": "其他",
}
TARGET_METRICS = {
    "net_revenue": "销售额",
    "new_customers": "新客户数",
    "visits": "客户拜访数",
    "csat_rate": "客户满意度",
    "nps": "净推荐值",
}
REP_ACTIVE = {"active": "是", "inactive": "否"}
CURRENCIES = {"CNY": "人民币", "USD": "美元", "EUR": "欧元"}


@dataclass(frozen=True)
class ZhFile:
    """How one entity's canonical file is written: file stem, format and (header, column, style)."""

    stem: str
    columns: tuple[tuple[str, str, Style], ...]
    format: str = "csv"  # csv | xlsx
    sheet: str | None = None
    title_rows: tuple[str, ...] = ()  # workbook lines above the header row

    def header_of(self, column: str) -> str:
        return next(h for h, c, _ in self.columns if c == column)


def _cols(*columns: tuple[str, str, Style] | tuple[str, str]) -> tuple[tuple[str, str, Style], ...]:
    return tuple((c[0], c[1], c[2] if len(c) == 3 else TEXT) for c in columns)


LAYOUT: dict[str, ZhFile] = {
    "teams": ZhFile(
        "销售团队",
        _cols(
            ("团队编号", "team_id"), ("团队名称", "team_name"), ("所属大区", "region"), ("团队经理", "manager_rep_id")
        ),
    ),
    "reps": ZhFile(
        "销售人员",
        _cols(
            ("工号", "rep_id"),
            ("姓名", "rep_name"),
            ("邮箱", "email"),
            ("所属团队", "team_id"),
            ("直属上级", "manager_rep_id"),
            ("所属大区", "region"),
            ("入职日期", "hire_date", DATE_SLASH),
            ("离职日期", "end_date", DATE_SLASH),
            ("是否在职", "status", Choice(REP_ACTIVE)),
            ("生效日期", "valid_from", DATE_SLASH),
        ),
    ),
    "accounts": ZhFile(
        "客户",
        _cols(
            ("客户编号", "account_id"),
            ("客户名称", "account_name"),
            ("所属行业", "industry"),
            ("所属大区", "region"),
            ("城市", "city"),
            ("负责人", "owner_rep_id"),
            ("创建时间", "created_at", Moment("timestamp", TS_SLASH.style, legacy=TS_CN.style)),
            ("客户来源", "lead_source", Choice(LEAD_SOURCES)),
            ("生效日期", "valid_from", DATE_SLASH),
        ),
    ),
    "contacts": ZhFile(
        "联系人",
        _cols(
            ("联系人编号", "contact_id"),
            ("客户编号", "account_id"),
            ("姓名", "full_name"),
            ("邮箱", "email"),
            ("手机", "phone"),
            ("职务", "title"),
            ("创建时间", "created_at", TS_SLASH),
        ),
    ),
    "leads": ZhFile(
        "线索",
        _cols(
            ("线索编号", "lead_id"),
            ("创建时间", "created_at", TS_SLASH),
            ("线索来源", "lead_source", Choice(LEAD_SOURCES)),
            ("负责人", "owner_rep_id"),
            ("线索状态", "status", Choice(LEAD_STATUSES)),
            ("确认时间", "qualified_at", TS_SLASH),
            ("转化时间", "converted_at", TS_SLASH),
            ("转化客户编号", "converted_account_id"),
            ("转化商机编号", "converted_opportunity_id"),
            ("公司名称", "company_name"),
            ("邮箱", "email"),
        ),
    ),
    "opportunities": ZhFile(
        "商机",
        _cols(
            ("商机编号", "opportunity_id"),
            ("负责人", "owner_rep_id"),
            ("商机阶段", "stage", Choice(STAGES)),
            ("客户编号", "account_id"),
            ("来源线索", "lead_id"),
            ("意向产品", "product_id"),
            ("创建时间", "created_at", TS_ISO),
            ("预计成交日期", "close_date", Moment("date", DATE_CN.style, excel_cell=True)),
            ("金额", "amount", AMOUNT),
            ("币种", "currency", Choice(CURRENCIES)),
            ("输单原因", "lost_reason"),
            ("最后修改时间", "updated_at", TS_ISO),
        ),
        format="xlsx",
        sheet="商机",
    ),
    "opportunity_stage_history": ZhFile(
        "商机阶段记录",
        _cols(
            ("商机编号", "opportunity_id"),
            ("阶段", "stage", Choice(STAGES)),
            ("进入时间", "entered_at", TS_SLASH),
            ("金额", "amount", AMOUNT),
            ("预计成交日期", "close_date", DATE_SLASH),
        ),
    ),
    "activities": ZhFile(
        "跟进记录",
        _cols(
            ("记录编号", "activity_id"),
            ("跟进人", "rep_id"),
            ("客户编号", "account_id"),
            ("商机编号", "opportunity_id"),
            ("跟进方式", "activity_type", Choice(ACTIVITY_TYPES)),
            ("方向", "direction", Choice(DIRECTIONS)),
            ("跟进时间", "occurred_at", TS_SLASH),
            ("回复时间", "responded_at", TS_SLASH),
            ("时长(分钟)", "duration_minutes"),
            ("跟进结果", "outcome"),
        ),
    ),
    "cases": ZhFile(
        "客服工单",
        _cols(
            ("工单编号", "case_id"),
            ("客户编号", "account_id"),
            ("创建时间", "opened_at", TS_CN),
            ("工单类型", "category", Choice(CASE_CATEGORIES)),
            ("紧急程度", "severity", Choice(SEVERITIES)),
            ("来源渠道", "channel", Choice(CASE_CHANNELS)),
            ("处理人", "owner_rep_id"),
            ("首次响应时间", "first_response_at", TS_CN),
            ("解决时间", "resolved_at", TS_CN),
            ("工单状态", "status", Choice(CASE_STATUSES)),
        ),
    ),
    "products": ZhFile(
        "产品",
        _cols(
            ("产品编号", "product_id"),
            ("产品名称", "product_name"),
            ("产品分类", "category"),
            ("标准售价", "list_price", AMOUNT),
            ("成本价", "unit_cost", AMOUNT),
            ("币种", "currency", Choice(CURRENCIES)),
        ),
    ),
    "orders": ZhFile(
        "销售订单",
        _cols(
            ("订单编号", "order_id"),
            ("客户编号", "account_id"),
            ("销售代表", "rep_id"),
            ("关联商机", "opportunity_id"),
            ("下单日期", "order_date", DATE_SLASH),
            ("订单状态", "status", Choice(ORDER_STATUSES)),
            ("销售渠道", "channel", Choice(ORDER_CHANNELS)),
            ("币种", "currency", Choice(CURRENCIES)),
        ),
    ),
    "order_lines": ZhFile(
        "订单明细",
        _cols(
            ("订单编号", "order_id"),
            ("行号", "line_number"),
            ("产品编号", "product_id"),
            ("数量", "quantity"),
            ("单价", "unit_price", AMOUNT),
            ("折扣金额", "discount_amount", AMOUNT),
        ),
    ),
    "returns": ZhFile(
        "退货记录",
        _cols(
            ("退货单号", "return_id"),
            ("订单编号", "order_id"),
            ("行号", "line_number"),
            ("退货日期", "return_date", DATE_CN),
            ("退货数量", "quantity"),
            ("退款金额", "refund_amount", AMOUNT),
            ("退货原因", "reason"),
        ),
    ),
    "survey_responses": ZhFile(
        "客户满意度调查",
        _cols(
            ("问卷编号", "response_id"),
            ("问卷类型", "survey_type", Choice(SURVEY_TYPES)),
            ("提交时间", "submitted_at", TS_SLASH),
            ("评分", "score"),
            ("客户编号", "account_id"),
            ("联系人编号", "contact_id"),
            ("订单编号", "order_id"),
            ("工单编号", "case_id"),
            ("评价内容", "comment"),
        ),
    ),
    "budgets": ZhFile(
        "费用预算",
        _cols(
            ("月份", "month", Moment("month", "%Y年%-m月")),
            ("团队编号", "team_id"),
            ("费用类别", "category", Choice(EXPENSE_CATEGORIES)),
            ("预算金额", "budget_amount", AMOUNT),
            ("币种", "currency", Choice(CURRENCIES)),
        ),
        format="xlsx",
        sheet="预算",
        title_rows=("星海科技 销售费用预算", "单位：元"),
    ),
    "expenses": ZhFile(
        "费用报销",
        _cols(
            ("报销单号", "expense_id"),
            ("费用日期", "expense_date", DATE_CN),
            ("团队编号", "team_id"),
            ("费用类别", "category", Choice(EXPENSE_CATEGORIES)),
            ("报销金额", "amount", Amount("￥")),
            ("报销人", "rep_id"),
            ("费用说明", "description"),
            ("币种", "currency", Choice(CURRENCIES)),
        ),
    ),
    "targets": ZhFile(
        "销售目标",
        _cols(
            ("月份", "month", Moment("month", "%Y年%-m月", excel_cell=True)),
            ("考核指标", "metric", Choice(TARGET_METRICS)),
            ("目标值", "target_value", NUMBER),
            ("销售代表", "rep_id"),
            ("团队编号", "team_id"),
        ),
        format="xlsx",
        sheet="销售目标",
    ),
    "fx_rates": ZhFile(
        "汇率",
        _cols(
            ("月份", "month", Moment("month", "%Y年%-m月")),
            ("币种", "currency", Choice(CURRENCIES)),
            ("汇率", "rate_to_reporting", NUMBER),
        ),
    ),
}
# Suffixes of the extra files a generation writes (dirty mode, re-sent orders), in Chinese.
FILE_SUFFIXES = {
    "update": "更新",
    "missing_column": "缺列",
    "export": "导出",
    "corrupt": "损坏",
    "empty": "空",
    "resent": "重发",
}


def zh_file_name(canonical_file: str, fmt: str | None = None) -> str:
    """`orders/orders_update.csv` -> `销售订单_更新.csv` (the extension follows `fmt` when given)."""
    path = PurePosixPath(canonical_file)
    entity = path.parent.name
    layout = LAYOUT[entity]
    suffix = path.name[len(entity) :].split(".", 1)[0].lstrip("_")
    stem = layout.stem + (f"_{FILE_SUFFIXES.get(suffix, suffix)}" if suffix else "")
    extension = fmt or ".".join(path.name.split(".")[1:])
    return f"{stem}.{extension}"


# --- writing ------------------------------------------------------------------------------------
def _select(layout: ZhFile, columns: list[str], period_start: str, workbook: bool) -> str:
    """The SQL projection of a canonical file (its present columns) to the Chinese headers.
    Workbook number and date cells take the canonical text (typed when the cell is written)."""
    parts = []
    for header, column, style in layout.columns:
        if column not in columns:
            continue  # a file missing a column (dirty mode) stays without it
        v = quote_ident(column)
        typed_cell = workbook and (
            isinstance(style, (Amount, Number)) or (isinstance(style, Moment) and style.excel_cell)
        )
        parts.append(f"{v if typed_cell else style.sql(v, period_start)} as {quote_ident(header)}")
    return ", ".join(parts)


def _write_csv(batches, headers: list[str], path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write((",".join(headers) + "\r\n").encode(ENCODING))  # Excel writes CRLF
        for batch in batches:
            table = {h: batch.column(i) for i, h in enumerate(headers)}
            text = bytes(out.csv_bytes(table, headers)).decode("utf-8")
            fh.write(text.replace("\n", "\r\n").encode(ENCODING))


def _write_xlsx(rows: list[tuple], layout: ZhFile, headers: list[str], path: Path, created: datetime) -> None:
    """One sheet: optional title lines, the header, then typed cells (reproducible bytes)."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties(
        {
            "title": layout.stem,
            "author": "销售管理系统",
            "company": "星海科技",
            "created": created.replace(tzinfo=timezone.utc),
        }
    )
    sheet = workbook.add_worksheet(layout.sheet or layout.stem)
    money = workbook.add_format({"num_format": "¥#,##0.00"})
    day = workbook.add_format({"num_format": 'yyyy"年"m"月"d"日"'})
    month = workbook.add_format({"num_format": 'yyyy"年"m"月"'})
    styles = {header: style for header, _, style in layout.columns}
    for r, title in enumerate(layout.title_rows):
        sheet.write_string(r, 0, title)
    first = len(layout.title_rows) + (1 if layout.title_rows else 0)  # a blank line under the titles
    sheet.write_row(first, 0, headers)
    for r, row in enumerate(rows, start=first + 1):
        for c, (header, value) in enumerate(zip(headers, row)):
            if value is None:
                continue
            style = styles[header]
            if isinstance(style, (Amount, Number)) and _NUMERIC_TEXT.fullmatch(value):
                sheet.write_number(r, c, float(value), money if isinstance(style, Amount) else None)
            elif isinstance(style, Moment) and style.excel_cell and (moment := _parse(value, style.kind)):
                sheet.write_datetime(r, c, moment, month if style.kind == "month" else day)
            else:
                sheet.write_string(r, c, value)
    workbook.close()


def _parse(text: str, kind: str) -> datetime | None:
    try:
        return datetime.strptime(text, _CANONICAL_FORMATS[kind])
    except ValueError:
        return None


def convert_file(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    entity: str,
    target: Path,
    *,
    period_start: str,
    created: datetime,
    work_dir: Path,
) -> None:
    """Rewrite one canonical file of `entity` in the zh shape (format from target's extension)."""
    layout = LAYOUT[entity]
    fmt = "xlsx" if source.suffix == ".xlsx" else "csv"
    table = open_source(con, source, fmt, SourceSpec(entity=entity, files=(source.name,)), work_dir)
    try:
        workbook = target.suffix == ".xlsx"
        projection = _select(layout, table.columns, period_start, workbook)
        relation = con.sql(f"select {projection} from {table.relation} order by {ROW_NUMBER}")
        headers = relation.columns
        if workbook:
            _write_xlsx(relation.fetchall(), layout, headers, target, created)
        else:
            _write_csv(relation.to_arrow_reader(_BATCH_ROWS), headers, target)
    finally:
        table.close()


def _zh_format(record: dict) -> str:
    """xlsx for the workbook entities (unless too big for one sheet), csv otherwise; files that
    are not tables keep their format (a corrupt workbook stays a .xlsx)."""
    if record["rows"] is None:
        return record["format"]
    fits = record["rows"] <= out.XLSX_MAX_DATA_ROWS
    return "xlsx" if LAYOUT[record["entity"]].format == "xlsx" and fits else "csv"


def _zh_manifest(manifest: dict, names: dict[str, str]) -> dict:
    """The canonical manifest, its file names (files and defects) turned into the zh ones."""
    for record in manifest["files"]:
        record["file"] = names[record["file"]]
        record["format"] = "xlsx" if record["file"].endswith(".xlsx") else "csv"
    for defect in manifest["defects"]:
        for key in ("file", "duplicate_of"):
            if defect.get(key):
                defect[key] = names[defect[key]]
    manifest["parameters"]["flavor"] = "zh"
    manifest["profile"] = PROFILE
    manifest["encoding"] = ENCODING
    return manifest


def generate_zh(
    out_dir: Path,
    *,
    scale: float,
    seed: int,
    start: str,
    months: int,
    dirty: bool,
    progress: Callable[[str, int, int], None] | None = None,
):
    """Write the demo exports in the crm_zh shape into out_dir, with a `_manifest.json` whose file
    names are the zh ones (expected outcomes as in the canonical flavor; defect values are given
    as the canonical text). Same arguments -> byte-identical files."""
    from demo.api import GenerateReport, _remove_earlier_output, generate

    began = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # beside out_dir (same disk), never inside it: the landing folder must only ever hold the zh files
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-canonical-", dir=out_dir.parent) as tmp:
        canonical_dir = Path(tmp) / "canonical"
        generate(canonical_dir, scale=scale, seed=seed, start=start, months=months, dirty=dirty, progress=progress)
        out_dir.mkdir(exist_ok=True)
        _remove_earlier_output(out_dir)
        manifest = read_manifest(canonical_dir)
        created = datetime.fromisoformat(f"{start}-01")
        names = {r["file"]: zh_file_name(r["file"], _zh_format(r)) for r in manifest["files"]}
        with duckdb.connect(config={"preserve_insertion_order": True}) as con:
            for record in manifest["files"]:
                source, target = canonical_dir / record["file"], out_dir / names[record["file"]]
                if record["rows"] is None or source.stat().st_size == 0:
                    shutil.copyfile(source, target)  # not a table (dirty mode's broken files): as is
                elif record["entity"] == "budgets" and target.suffix == ".xlsx":  # months across
                    write_wide_budget(
                        con,
                        source,
                        target,
                        categories=EXPENSE_CATEGORIES,
                        currencies=CURRENCIES,
                        created=created,
                        work_dir=Path(tmp) / "work",
                    )
                else:
                    convert_file(
                        con,
                        source,
                        record["entity"],
                        target,
                        period_start=manifest["period"]["first_date"],
                        created=created,
                        work_dir=Path(tmp) / "work",
                    )
                if progress:
                    progress(f"{record['entity']} → {names[record['file']]}", 1, 1)
    manifest_path = write_manifest(out_dir, _zh_manifest(manifest, names))
    return GenerateReport(
        out_dir=out_dir,
        manifest_path=manifest_path,
        rows=dict(manifest["row_counts"]),
        files={r["file"]: r["rows"] for r in manifest["files"]},
        defects=len(manifest["defects"]),
        seconds=time.perf_counter() - began,
    )
