"""`generate`: the demo company's exports in the canonical format (exports.md), with a manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from demo import output as out
from demo.activities import generate_activities
from demo.catalog import products_table
from demo.company import Company, build_company
from demo.currencies import reporting_rates
from demo.customers import accounts_table, contacts_table, leads_table
from demo.dirty import DirtyInjector
from demo.exports import MANIFEST_NAME, Exports, FileRecord, read_manifest, write_manifest
from demo.org import reps_table, teams_table
from demo.pipeline import lead_opportunity, opportunities_table, opportunity_ids, stage_history_table
from demo.planning import build_plan
from demo.playbook import generate_playbook_touches
from demo.sales import generate_sales
from demo.vocab import REPORTING_CURRENCY
from ingestion.canonical import ENTITIES

MANIFEST_VERSION = 1
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class GenerateReport:
    out_dir: Path
    manifest_path: Path
    rows: dict[str, int]  # data rows of each entity's main file
    files: dict[str, int | None]  # every file written (relative path) -> data rows
    defects: int  # injected bad inputs (dirty mode)
    seconds: float = field(compare=False)


def _remove_earlier_output(out_dir: Path) -> None:
    """Delete the files an earlier generation listed in its manifest (and only those), so a new
    run never leaves stale files behind for ingestion to pick up."""
    if not (out_dir / MANIFEST_NAME).is_file():
        return
    earlier = read_manifest(out_dir)
    for name in [f["file"] for f in earlier.get("files", [])] + earlier.get("next_day_files", []):
        (out_dir / name).unlink(missing_ok=True)
    (out_dir / MANIFEST_NAME).unlink()


def _write_sliced(
    exports: Exports, entity: str, n: int, make: Callable[[slice], out.Table], progress: Progress | None
) -> None:
    out.write_in_slices(exports.write, entity, n, make)
    if progress:
        progress(entity, 1, 1)


def _write_workbook(exports: Exports, entity: str, sheet: out.Sheet, created: datetime) -> None:
    """Budgets and targets arrive as .xlsx; past one worksheet's row limit they fall back to CSV."""
    n = out.sheet_rows(sheet)
    if n <= out.XLSX_MAX_DATA_ROWS:
        path = exports.out_dir / entity / f"{entity}.xlsx"
        out.write_xlsx(path, entity, ENTITIES[entity].column_names, sheet, created)
        exports.record(FileRecord(entity, exports.relative(path), "xlsx", n))
        return
    out.write_in_slices(exports.write, entity, n, lambda rows: out.sheet_table(sheet, rows))


def _write_master_data(exports: Exports, company: Company, progress: Progress | None) -> None:
    """teams, reps, products, leads, accounts, contacts, opportunities and their stage history."""
    exports.write("teams", teams_table(company.org))
    exports.write("reps", reps_table(company.org))
    _write_rep_snapshots(exports, company)
    exports.write("products", products_table(company.catalog))
    if progress:
        for entity in ("teams", "reps", "products"):
            progress(entity, 1, 1)
    leads, accounts, contacts, opps = company.leads, company.accounts, company.contacts, company.opps
    lead_opps = lead_opportunity(opps, leads.n)
    _write_sliced(
        exports, "leads", leads.n, lambda rows: leads_table(leads, accounts, lead_opps, rows, opportunity_ids), progress
    )
    _write_sliced(exports, "accounts", accounts.n, lambda rows: accounts_table(accounts, rows), progress)
    _write_sliced(exports, "contacts", contacts.n, lambda rows: contacts_table(contacts, rows), progress)
    _write_sliced(exports, "opportunities", opps.n, lambda rows: opportunities_table(opps, rows), progress)
    _write_sliced(exports, "opportunity_stage_history", opps.n, lambda rows: stage_history_table(opps, rows), progress)


def _write_rep_snapshots(exports: Exports, company: Company) -> None:
    """The reps as they stood at the end of every month but the last (reps.csv is the state now):
    `reps/reps_YYYY-MM-DD.csv`, dated by name (exports.md "Snapshots are effective-dated"). A month
    in which nothing changed exports nothing: the same content again would be a duplicate file."""
    written = [reps_table(company.org)]
    for month_end in company.period.month_starts[1:-1] - 1:
        table = reps_table(company.org, int(month_end))
        if any(_same_table(table, other) for other in written[-1:] + written[:1]):
            continue
        path = exports.out_dir / "reps" / f"reps_{np.datetime64(int(month_end), 'D')}.csv"
        with exports.open("reps", path) as sink:
            sink.write(table)
        exports.record(FileRecord("reps", exports.relative(path), "csv", sink.rows))
        written.append(table)


def _same_table(a: out.Table, b: out.Table) -> bool:
    return a.keys() == b.keys() and all(a[c].equals(b[c]) for c in a)


FLAVORS = ("canonical", "zh")


def generate(
    out_dir: Path,
    *,
    scale: float = 1,
    seed: int = 42,
    start: str = "2024-01",
    months: int = 24,
    dirty: bool = False,
    progress: Progress | None = None,
    flavor: str = "canonical",
) -> GenerateReport:
    """Write the canonical exports of the demo company into out_dir (see exports.md): one folder per
    entity, `_manifest.json` on top. Same arguments -> byte-identical files. flavor="zh" writes the
    same data as a Chinese CRM exports it (profile crm_zh; see flavor_zh.py)."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; flavors: {', '.join(FLAVORS)}")
    if flavor == "zh":
        from demo.flavor_zh import generate_zh  # it generates the canonical data first

        return generate_zh(out_dir, scale=scale, seed=seed, start=start, months=months, dirty=dirty, progress=progress)
    began = time.perf_counter()
    out_dir = Path(out_dir)
    company = build_company(scale, seed, start, months)  # validates the arguments first
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_earlier_output(out_dir)
    injector = DirtyInjector(seed, company.accounts.n) if dirty else None
    exports = Exports(out_dir, injector)
    _write_master_data(exports, company, progress)
    # from here on only what drives the events is kept (leads and contact details are written)
    period, org, accounts, catalog, opps = company.period, company.org, company.accounts, company.catalog, company.opps
    contacts_of_account = company.contacts.of_account
    del company

    totals = generate_sales(
        period, org, accounts, contacts_of_account, catalog, opps, scale, seed, exports.write, progress
    )
    visits, n_activities = generate_activities(period, org, accounts, opps, seed, exports.write, progress)
    n_activities += generate_playbook_touches(
        period, accounts, totals.completed_orders(), seed, n_activities, exports.write
    )
    del accounts, catalog, opps, contacts_of_account  # planning needs the org and the totals only
    plan = build_plan(period, org, seed, totals.rep_month_net_cents, totals.rep_month_new_customers, visits)
    _write_sliced(exports, "expenses", plan.expenses.n, plan.expenses.table, None)
    created = datetime.fromisoformat(f"{start}-01")  # the workbooks' fixed creation date
    _write_workbook(exports, "budgets", plan.budgets, created)
    _write_workbook(exports, "targets", plan.targets, created)
    exports.write("fx_rates", reporting_rates(period.start_day, period.end_day, REPORTING_CURRENCY))
    if progress:
        for entity in ("expenses", "budgets", "targets", "fx_rates"):
            progress(entity, 1, 1)

    if injector is not None:
        injector.finish(exports, totals.pending_orders, totals.last_completed_orders)
    else:
        exports.close()

    counters = {**totals.counters, "activities": n_activities}
    files = sorted(exports.files.values(), key=lambda r: r.file)
    manifest = {
        "generator": "salesdw generate",
        "manifest_version": MANIFEST_VERSION,
        "parameters": {"scale": scale, "seed": seed, "start": start, "months": months, "dirty": dirty},
        "reporting_currency": REPORTING_CURRENCY,
        "period": {
            "first_date": str(np.datetime64(period.start_day, "D")),
            "last_date": str(np.datetime64(period.end_day, "D")),
        },
        "row_counts": {r.entity: r.rows for r in files if r.file == exports.main_file(r.entity).file},
        "files": [r.manifest() for r in files],
        "defects": injector.defects if injector else [],
        "id_counters": counters,
    }
    manifest_path = write_manifest(out_dir, manifest)
    return GenerateReport(
        out_dir=out_dir,
        manifest_path=manifest_path,
        rows=dict(manifest["row_counts"]),
        files={r.file: r.rows for r in files},
        defects=len(manifest["defects"]),
        seconds=time.perf_counter() - began,
    )
