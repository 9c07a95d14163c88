"""What a person reads after a run (`salesdw run`) or when asking `salesdw status`."""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration import run_status
from orchestration.progress import literal
from orchestration.publish import last_publish
from orchestration.refresh import describe_last
from orchestration.runner import RunOutcome, warehouse_counts
from orchestration.settings import Settings

HEADLINES = {
    "Net revenue, last full month": """
        select sum(net_revenue) from marts.mart_team_kpi_monthly
        where month = (select max(month) from marts.mart_team_kpi_monthly
                       where month < (select max(month) from marts.mart_team_kpi_monthly))""",
    "Win rate, last 12 months (by count)": """
        select sum(opportunities_won) * 1.0 / nullif(sum(opportunities_won) + sum(opportunities_lost), 0)
        from marts.mart_team_kpi_monthly
        where month > (select max(month) from marts.mart_team_kpi_monthly) - interval 12 month""",
    "NPS, last 12 months": """
        select (sum(nps_promoters) - sum(nps_detractors)) * 100.0 / nullif(sum(nps_responses), 0)
        from marts.mart_team_kpi_monthly
        where month > (select max(month) from marts.mart_team_kpi_monthly) - interval 12 month""",
    "Open pipeline (amount)": "select sum(amount) from marts.fct_opportunities where status = 'open'",
    "Customers by lifecycle stage": """
        select string_agg(lifecycle_stage || ' ' || n, ', ' order by n desc)
        from (select lifecycle_stage, count(*) as n from marts.dim_customers group by 1)""",
}


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and abs(value) <= 1.5 and value != 0:
        return f"{value:.1%}"
    if isinstance(value, (int, float)) or hasattr(value, "as_tuple"):
        return f"{float(value):,.2f}" if float(value) % 1 else f"{int(value):,}"
    return str(value)


def headline_kpis(warehouse: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not warehouse.exists():
        return out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for label, sql in HEADLINES.items():
            try:
                out[label] = _fmt(con.execute(sql).fetchone()[0])
            except duckdb.Error as exc:  # a mart missing in an older warehouse
                out[label] = f"n/a ({type(exc).__name__})"
    out["NPS, last 12 months"] = out.get("NPS, last 12 months", "—").rstrip("%")
    return out


def print_run_summary(console: Console, settings: Settings, outcome: RunOutcome, *, elapsed: float) -> None:
    console.print(_layers_table(settings, outcome))
    _print_checks(console, settings, outcome)
    if outcome.published:
        _print_published(console, settings, outcome)
    else:
        console.print(
            "[red]Not published[/]: the previous warehouse (if any) is untouched. "
            f"Failed steps: {', '.join(outcome.failed_steps) or 'none'}"
        )
        for message in outcome.failure_messages:
            console.print(Text("  ") + literal(message, "red"), soft_wrap=True)
    console.print(f"Data quality report {settings.reports_dir / 'data_quality.html'}")
    console.print(f"dbt and run log {settings.logs_dir / 'last_run.log'}")
    console.print(f"run {outcome.run_id} finished in {elapsed:.1f} s")


def _layers_table(settings: Settings, outcome: RunOutcome) -> Table:
    """Rows per layer: what this run landed, and the staging and mart tables it left."""
    ledger = outcome.ledger
    layers = Table(title="Rows per layer", show_edge=False)
    for col in ("layer", "tables", "rows", "notes"):
        layers.add_column(col, justify="right" if col in ("tables", "rows") else "left")
    if ledger is not None and not ledger.empty:
        by_status = ledger.groupby("status").size().to_dict()
        layers.add_row(
            "landing → raw (this run)",
            str(ledger.entity.nunique()),
            f"{int(ledger.rows_loaded.sum()):,}",
            f"{by_status.get('loaded', 0)} files loaded, {by_status.get('rejected', 0)} rejected, "
            f"{by_status.get('duplicate_file', 0)} duplicate; {int(ledger.rows_quarantined.sum()):,} rows quarantined",
        )
    else:
        layers.add_row("landing → raw (this run)", "0", "0", "no new files")
    # staging lives in the build warehouse only; the serving file holds marts and quality tables
    counts = {
        "staging": warehouse_counts(settings.build_warehouse, settings, ("staging",)).get("staging", {}),
        "marts": warehouse_counts(
            settings.serving_warehouse if outcome.published else settings.build_warehouse, settings, ("marts",)
        ).get("marts", {}),
    }
    for schema in ("staging", "marts"):
        tables = counts.get(schema, {})
        empty = [t for t, n in tables.items() if n == 0]
        layers.add_row(
            schema, str(len(tables)), f"{sum(tables.values()):,}", f"empty: {', '.join(empty)}" if empty else ""
        )
    return layers


def _print_checks(console: Console, settings: Settings, outcome: RunOutcome) -> None:
    """The check counts, then each failed check, rejected file and ignored file."""
    checks = Table(title="Checks", show_edge=False)
    checks.add_column("passed", justify="right")
    checks.add_column("failed (blocking)", justify="right")
    checks.add_column("failed (warning)", justify="right")
    checks.add_row(
        str(outcome.checks_passed),
        str(len(outcome.blocking_failures)),
        str(len(outcome.failed_checks) - len(outcome.blocking_failures)),
    )
    console.print(checks)
    for asset, check, severity in outcome.failed_checks[:15]:
        seen = outcome.check_observations.get((asset, check))
        console.print(
            Text.assemble(
                "  ",
                (f"{severity.lower():<5}", "red" if severity == "ERROR" else "yellow"),
                " ",
                literal(f"{asset}: {check}" + (f" — {seen}" if seen else "")),
            ),
            soft_wrap=True,
        )
    for path, error in outcome.rejected_files:
        console.print(Text.assemble("  ", ("rejected", "red"), " ", literal(f"{path}: {error}")), soft_wrap=True)
    _print_ignored(console, settings, outcome.run_id)


def _print_published(console: Console, settings: Settings, outcome: RunOutcome) -> None:
    kpis = Table(title="Headline KPIs", show_edge=False, show_header=False)
    for label, value in headline_kpis(settings.serving_warehouse).items():
        kpis.add_row(label, value)
    console.print(kpis)
    console.print(Text.assemble(("Published", "green"), f" {settings.serving_warehouse}"))
    if outcome.postgres_failure:
        console.print(
            Text.assemble(
                ("PostgreSQL copy failed", "red"),
                f": {outcome.postgres_failure} (PostgreSQL keeps its previous publish)",
            ),
            soft_wrap=True,
        )
    console.print(f"Report     {settings.reports_dir / 'sales_report.html'}")


def print_status(console: Console, settings: Settings) -> None:
    from ingestion.ledger import read_ledger

    ledger = read_ledger(settings.quality_dir)
    if ledger.empty:
        console.print(f"nothing ingested yet under {settings.data_dir}")
    else:
        console.print(_ledger_table(ledger))
        _print_rejected_and_retired(console, ledger)
    _print_ignored(console, settings)
    _print_last_run(console, settings)
    record = last_publish(settings)
    if record:
        console.print(f"Last published {record.published_at} (run {record.run_id}): {record.warehouse}")
    else:
        console.print("The warehouse has never been published.")
    _print_last_checks(console, settings)


_LEDGER_COLUMNS = (
    "profile",
    "entity",
    "loaded",
    "rejected",
    "duplicate",
    "rows loaded",
    "rows quarantined",
    "last file",
)


def _ledger_table(ledger) -> Table:
    """Files and rows per profile and entity."""
    table = Table(title="Ingestion ledger", show_edge=False)
    for col in _LEDGER_COLUMNS:
        table.add_column(col, justify="left" if col in ("profile", "entity", "last file") else "right")
    for (profile, entity), g in ledger.groupby(["profile", "entity"]):
        s = g.status.value_counts()
        table.add_row(
            literal(profile),
            literal(entity),
            str(s.get("loaded", 0)),
            str(s.get("rejected", 0)),
            str(s.get("duplicate_file", 0)),
            f"{int(g.rows_loaded.sum()):,}",
            f"{int(g.rows_quarantined.sum()):,}",
            str(g.finished_at.max())[:19],
        )
    return table


def _print_rejected_and_retired(console: Console, ledger) -> None:
    for _, row in ledger[ledger.status == "rejected"].iterrows():
        console.print(
            Text.assemble("  ", ("rejected", "red"), " ", literal(f"{row.file_path}: {row.error}")), soft_wrap=True
        )
    for _, row in ledger[ledger.retired_at.notna()].iterrows():
        console.print(
            Text.assemble(
                "  ",
                ("retired", "yellow"),
                " ",
                literal(
                    f"{row.file_path} (batch {row.batch_id}, {int(row.rows_loaded):,} rows) at "
                    f"{str(row.retired_at)[:19]}: {row.retired_reason}"
                ),
            ),
            soft_wrap=True,
        )


def _print_last_checks(console: Console, settings: Settings) -> None:
    """The stored check results of the last run that has any: counts, then the failures."""
    try:
        from orchestration.quality import results_store

        results = results_store.read(settings.quality_dir)
    except Exception:  # noqa: BLE001 - status must still show the rest
        results = None
    if results is not None and not results.empty:
        last_run = results.sort_values("checked_at").run_id.iloc[-1]
        latest = results[results.run_id == last_run]
        failed = latest[~latest.passed.astype(bool)]
        console.print(f"Checks of run {last_run}: {int(latest.passed.sum())} passed, {len(failed)} failed")
        for _, row in failed.head(15).iterrows():
            console.print(literal(f"  {row.severity:<5} {row.asset}: {row.check_name} (observed {row.observed_value})"))


def _print_ignored(console: Console, settings: Settings, run_id: str | None = None) -> None:
    """The files under the landing folders that no profile source read (ingestion/ignored.py): of
    run `run_id`, or of the last run that stored its list."""
    from ingestion.ignored import last_ignored

    stored = last_ignored(settings.quality_dir)
    if stored is None or (run_id is not None and stored[0] != run_id) or not stored[1]:
        return
    console.print(f"Ignored {len(stored[1])} file(s) under {settings.landing_dir} (run {stored[0]}):")
    for item in stored[1]:
        console.print(
            Text.assemble("  ", ("ignored", "yellow"), " ", literal(f"{item.profile}/{item.file_path}: {item.reason}")),
            soft_wrap=True,
        )


def _print_last_run(console: Console, settings: Settings) -> None:
    """The last run that reached the serving steps (or ended in the CLI): published or why not."""
    last = run_status.last_run(settings)
    if last is None:
        return
    events = last.events
    if last.published:
        verdict = "published" + (f" ({events['finished']})" if "finished" in events else "")
    else:
        why = events.get("publish_refused") or events.get("finished") or "no publish recorded"
        verdict = f"NOT published: {why}"
    console.print(literal(f"Last run {last.run_id} ({last.at}): {verdict}"), soft_wrap=True)
    if "postgres_failed" in events:
        console.print(literal(f"  PostgreSQL copy failed: {events['postgres_failed']}"), soft_wrap=True)
    refreshed = describe_last(settings.warehouse_dir)
    if refreshed:
        console.print(literal(refreshed), soft_wrap=True)


def record_finished(settings: Settings, outcome: RunOutcome, code: int) -> None:
    """The CLI run's end for `salesdw status`: its exit code and, when nothing was published, why;
    and then the data-quality report, which the report step (after a publish only) did not write."""
    why = "" if outcome.published else "; ".join(outcome.failure_messages) or "no publish (see the run log)"
    run_status.record(settings, outcome.run_id, "finished", f"exit code {code}" + (f": {why}" if why else ""))
    if not outcome.published:
        from orchestration.quality.report import write_quality_report

        write_quality_report(settings.quality_dir, settings.reports_dir)
