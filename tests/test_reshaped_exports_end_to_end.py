"""Exports as they really come (issue 20), through one real `salesdw run --landing DIR --profile
<yaml>`: the demo's exports reshaped by this test into a lead funnel in two files joined by
`lookup`, a budget workbook and a targets sheet with the months across (`unpivot`), and orders in
CNY and USD whose USD rate for one month is missing.

The missing rate refuses the publish, naming the currency and the month (and the orders waiting
for it) on the console, and the demo's serving warehouse stays as it was. The build warehouse still
holds what the run built: leads_converted there equals a count made here from the test's own two
files, and the budget and target totals equal the long form's (the demo's workbooks).
"""

import csv
import hashlib
import shutil
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import yaml

from demo.currencies import FX_FILE, write_currency_twin
from tests.conftest import DEMO_SEED, REPO, salesdw

MISSING = ("USD", "2025-03")  # the rate that does not land
MONTH_HEADER = r"^\d{4}-\d{2}$"


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, header: list[str], records: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *records])


def sheet(path: Path) -> list[dict]:
    """A long-form workbook of the demo (header row, then records) as dicts."""
    values = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    return [dict(zip(values[0], r)) for r in values[1:]]


def write_wide(path: Path, long: list[dict], keys: list[str], value: str) -> None:
    """The long form with its months across the columns: one row per `keys`, one column per month."""
    months = sorted({r["month"] for r in long})
    wide = defaultdict(dict)
    for r in long:
        wide[tuple(r[k] for k in keys)][r["month"]] = r[value]
    book = openpyxl.Workbook()
    book.active.append([*keys, *months])
    for key, cells in wide.items():
        book.active.append([*key, *(cells.get(m) for m in months)])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def split_the_funnel(landing: Path) -> tuple[list[list], list[list]]:
    """leads.csv as two files: the leads (a converted one reads `qualified`, without its deal), and
    the closed deals keyed by the lead id: the converted leads whose deal is closed now (the last
    row of each opportunity in opportunities.csv), so a conversion to a still-open deal is not in it."""
    leads = rows(landing / "leads" / "leads.csv")
    stage = {o["opportunity_id"]: o["stage"] for o in rows(landing / "opportunities" / "opportunities.csv")}
    lead_rows = [
        [
            lead["lead_id"],
            lead["created_at"],
            lead["lead_source"],
            lead["owner_rep_id"],
            "qualified" if lead["status"] == "converted" else lead["status"],
            lead["qualified_at"],
            lead["company_name"],
            lead["email"],
        ]
        for lead in leads
    ]
    deal_rows = [
        [lead["converted_opportunity_id"], lead["lead_id"], lead["converted_account_id"], lead["converted_at"]]
        for lead in leads
        if lead["converted_opportunity_id"]
        and stage.get(lead["converted_opportunity_id"]) in ("closed_won", "closed_lost")
    ]
    converted = sum(1 for lead in leads if lead["converted_opportunity_id"])
    assert 0 < len(deal_rows) < converted, "the closed deals must be some of the conversions, not all"
    return lead_rows, deal_rows


def reshaped_profile() -> dict:
    """The canonical profile, but leads, budgets and targets read from their reshaped files."""
    profile = yaml.safe_load((REPO / "ingestion" / "profiles" / "canonical.yml").read_text(encoding="utf-8"))
    profile["name"] = "reshaped"
    profile["entities"]["leads"] = {
        "files": ["funnel/qualified_leads.csv"],
        "columns_by_name": False,
        "lookup": {
            "file": "funnel/closed_deals.csv",
            "key": {"Lead ID": "Lead Ref"},
            "columns": {"Deal ID": "deal_id", "Account": "deal_account", "Closed On": "closed_on"},
        },
        "columns": {
            "lead_id": "Lead ID",
            "created_at": "Created",
            "lead_source": "Source",
            "owner_rep_id": "Owner",
            "status": {"expr": "case when deal_id is not null then 'converted' else \"Status\" end"},
            "qualified_at": "Qualified At",
            "company_name": "Company",
            "email": "Email",
            "converted_opportunity_id": "deal_id",
            "converted_account_id": "deal_account",
            "converted_at": "closed_on",
        },
    }
    profile["entities"]["budgets"] = {
        "files": ["planning/budget_wide.xlsx"],
        "columns_by_name": False,
        "unpivot": {"columns": MONTH_HEADER, "name": "month_text", "value": "amount_text"},
        "columns": {
            "month": "month_text",
            "team_id": "team_id",
            "category": "category",
            "currency": "currency",
            "budget_amount": "amount_text",
        },
    }
    profile["entities"]["targets"] = {
        "files": ["planning/targets_wide.xlsx"],
        "columns_by_name": False,
        "unpivot": {"columns": MONTH_HEADER, "name": "month_text", "value": "target_text"},
        "columns": {
            "month": "month_text",
            "metric": "metric",
            "rep_id": "rep_id",
            "team_id": "team_id",
            "target_value": "target_text",
        },
    }
    return profile


def reshape(exports: Path, landing: Path) -> dict:
    """A copy of the demo's exports, reshaped; returns what the test checks the warehouse against."""
    shutil.copytree(exports, landing)
    write_currency_twin(landing, ["CNY", "USD"], seed=DEMO_SEED)
    fx = rows(landing / FX_FILE)
    assert any((r["currency"], r["month"]) == MISSING for r in fx)
    write_csv(landing / FX_FILE, list(fx[0]), [list(r.values()) for r in fx if (r["currency"], r["month"]) != MISSING])

    lead_rows, deal_rows = split_the_funnel(landing)
    write_csv(
        landing / "funnel" / "qualified_leads.csv",
        ["Lead ID", "Created", "Source", "Owner", "Status", "Qualified At", "Company", "Email"],
        lead_rows,
    )
    write_csv(landing / "funnel" / "closed_deals.csv", ["Deal ID", "Lead Ref", "Account", "Closed On"], deal_rows)
    budgets, targets = sheet(landing / "budgets" / "budgets.xlsx"), sheet(landing / "targets" / "targets.xlsx")
    write_wide(landing / "planning" / "budget_wide.xlsx", budgets, ["team_id", "category", "currency"], "budget_amount")
    write_wide(landing / "planning" / "targets_wide.xlsx", targets, ["metric", "rep_id", "team_id"], "target_value")
    for folder in ("leads", "budgets", "targets"):
        shutil.rmtree(landing / folder)

    closed = {d[1] for d in deal_rows}
    cohorts = Counter((date.fromisoformat(r[1][:10]).replace(day=1), r[2]) for r in lead_rows)
    converted = Counter((date.fromisoformat(r[1][:10]).replace(day=1), r[2]) for r in lead_rows if r[0] in closed)
    usd_orders = {
        o["order_id"]
        for o in rows(landing / "orders" / "orders.csv")
        if (o["currency"], o["order_date"][:7]) == MISSING
    }
    return {
        "leads_converted": {key: converted.get(key, 0) for key in cohorts},
        "budgets": month_sums(budgets, "budget_amount"),
        "targets": month_sums(targets, "target_value", "metric"),
        "usd_orders_without_rate": len(usd_orders),
    }


def month_sums(long: list[dict], value: str, *by: str) -> dict:
    sums = defaultdict(Decimal)
    for r in long:
        sums[(date.fromisoformat(r["month"] + "-01"), *(r[k] for k in by))] += Decimal(str(r[value]))
    return dict(sums)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reshaped_exports_build_the_same_planning_and_the_funnel_of_their_files(demo_run, tmp_path):
    assert demo_run.exit_code == 0, demo_run.output
    data_dir = tmp_path / "data"
    shutil.copytree(demo_run.data_dir, data_dir, symlinks=True)
    # Only the reshaped exports feed this run: the demo's raw zone, ledger and build go; its published
    # warehouse stays, the one a refused publish must keep.
    for gone in ("raw", "quality/ledger", "quality/quarantine", "landing"):
        shutil.rmtree(data_dir / gone, ignore_errors=True)
    for gone in ("build.duckdb", "build_run.json"):
        (data_dir / "warehouse" / gone).unlink(missing_ok=True)
    serving = data_dir / "warehouse" / "sales.duckdb"
    published = sha(serving)

    landing = tmp_path / "reshaped"
    expected = reshape(demo_run.exports, landing)
    profile = tmp_path / "reshaped.yml"
    profile.write_text(yaml.safe_dump(reshaped_profile(), allow_unicode=True, sort_keys=False), encoding="utf-8")

    run = salesdw("run", "--landing", str(landing), "--profile", str(profile), data_dir=data_dir)
    output = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 1, output
    assert "Not published" in output
    assert expected["usd_orders_without_rate"] > 0
    saw = f"USD 2025-03: {expected['usd_orders_without_rate']} orders without a rate"
    seen = f"fx_rate_present — observed: missing_rate: 1 of 1 rows; details: missing_rate: unexpected values: [{saw}]"
    assert f"check failed (ERROR): staging/stg_fx_rates:{seen}" in output, output[-3000:]  # as the check fails
    assert f"error staging/stg_fx_rates: {seen}" in output, output[-3000:]  # and in the run's summary
    assert sha(serving) == published

    with duckdb.connect(str(data_dir / "warehouse" / "build.duckdb"), read_only=True) as con:
        funnel = con.sql(
            "select cohort_month, lead_source, leads_converted from marts.mart_lead_funnel_monthly"
        ).fetchall()
        budgets = con.sql("select month, sum(budget_amount) from marts.mart_budget_vs_actual group by month").fetchall()
        targets = con.sql("select month, metric, sum(target_value) from staging.stg_targets group by all").fetchall()
    assert {(m, s): n for m, s, n in funnel} == expected["leads_converted"]
    assert {(m,): Decimal(str(v)) for m, v in budgets if v} == expected["budgets"]
    assert {(m, k): Decimal(str(v)) for m, k, v in targets} == expected["targets"]
