"""Hand-made warehouses for the data-quality tests (tests/test_quality_*.py).

The marts fixture is written straight into DuckDB tables (no dbt): each mart holds only the columns
its checks read, and staging holds orders whose net revenue is computed by hand below.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from ingestion.raw_zone import LEDGER_COLUMNS

MART_TABLES = (
    "fct_opportunities",
    "mart_funnel_monthly",
    "mart_lead_funnel_monthly",
    "mart_rep_kpi_monthly",
    "mart_team_kpi_monthly",
    "mart_pipeline_forecast",
    "mart_budget_vs_actual",
    "dim_customers",
    "fct_customer_lifecycle_monthly",
    "mart_lifecycle_monthly",
    "mart_service_monthly",
    "fct_pipeline_snapshots",
    "mart_pipeline_movement_monthly",
    "mart_stage_win_rates",
    "mart_forecast_accuracy",
    "mart_sales_by_product_monthly",
    "mart_loss_reasons_monthly",
    "mart_customer_treatment_monthly",
)

# A waterfall that reconciles, by hand: T1 starts February with 2 deals (300.00), gains a new one
# (100.00), wins one (120.00 at the start) and the one left grows by 20.00:
#   300 + 100 + 20 - 0 - 120 = 300.00 over 2 - 1 + 1 = 2 deals at the end.
MOVEMENT_COUNTS = ("open_start", "open_end", "new", "won", "lost", "moved_in", "moved_out", "other_in", "other_out")
MOVEMENT_ROW = {"open_start": (2, 300), "open_end": (2, 300), "new": (1, 100), "won": (1, 120)}

# Staging net revenue up to the as_of month (2025-03), by hand:
#   O1 completed 2025-01-10: 2 x 100.00 - 20.00 = 180.00      O2 completed 2025-02-05: 1 x 50.00 = 50.00
#   O3 cancelled (not a sale), O4 completed 2025-04-02 (after the as_of month): excluded
#   refunds on completed orders returned by March: R1 on O1, 30.00 (R2 is on cancelled O3,
#   R3 is dated April)                                     => 180 + 50 - 30 = 200.00
STAGING_NET_REVENUE = 200
REP_KPI_ROWS = [  # month, rep_id, net_revenue, win_rate, csat_rate, nps: sums to 200.00
    ("2025-01-01", "R1", 180, 0.5, 1.0, 100),
    ("2025-02-01", "R1", 50, None, 0.5, -50),
    ("2025-03-01", "R1", -30, 0.0, None, None),
    ("2025-03-01", "R2", 0, 1.0, 0.0, 0),
]


def write_ledger(quality_dir: Path, rows: list[dict], batch_id: str = "ledger-1") -> Path:
    """One ingestion-ledger file (ingestion/raw_zone.py layout); missing columns are NULL."""
    folder = quality_dir / "ledger"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{batch_id}.parquet"
    selects = ["select " + ", ".join(f"cast(? as {t}) as {c}" for c, t in LEDGER_COLUMNS.items()) for _ in rows]
    params = [row.get(c) for row in rows for c in LEDGER_COLUMNS]
    with duckdb.connect() as con:
        con.execute(f"copy ({' union all '.join(selects)}) to '{path}' (format parquet)", params)
    return path


def build_marts_warehouse(path: Path, *, opportunities: int = 10) -> Path:
    """A build warehouse whose marts, staging and calendar pass every marts check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        for schema in ("staging", "intermediate", "marts"):
            con.execute(f"create schema {schema}")
        con.execute("""create table intermediate.int_calendar as select date '2025-03-31' as as_of_date,
            date '2025-03-01' as as_of_month, date '2025-01-01' as first_month,
            timestamp '2025-04-01 00:00:00' as now_ts""")
        con.execute("""create table staging.stg_orders as select * from (values
            ('O1', 'completed', date '2025-01-10'), ('O2', 'completed', date '2025-02-05'),
            ('O3', 'cancelled', date '2025-02-06'), ('O4', 'completed', date '2025-04-02'))
            as t(order_id, status, order_date)""")
        con.execute("""create table staging.stg_order_lines as select order_id, line_number,
            cast(quantity as decimal(18,4)) as quantity, cast(unit_price as decimal(18,4)) as unit_price,
            cast(discount_amount as decimal(18,2)) as discount_amount from (values
            ('O1', 1, 2, 100, 20), ('O2', 1, 1, 50, null), ('O3', 1, 5, 10, null), ('O4', 1, 3, 10, null))
            as t(order_id, line_number, quantity, unit_price, discount_amount)""")
        con.execute("""create table staging.stg_returns as select return_id, order_id, return_date,
            cast(refund_amount as decimal(18,2)) as refund_amount from (values
            ('R1', 'O1', date '2025-03-01', 30), ('R2', 'O3', date '2025-02-10', 10),
            ('R3', 'O2', date '2025-04-10', 5)) as t(return_id, order_id, return_date, refund_amount)""")
        # OP0 is closed (no cold-deal flag), the others open; OP1 past due and stale, 12 days in its stage
        con.execute(f"""create table marts.fct_opportunities as select 'OP' || range as opportunity_id,
            0.2 as stage_probability, range = 0 as is_closed, range = 1 as is_past_due, range = 1 as is_stale,
            case when range > 0 then 12 end as days_in_current_stage from range({opportunities})""")
        con.execute("""create table marts.mart_funnel_monthly as select * from (values
            (null, 'T1', 'prospecting', 0.5, 1.0), (date '2025-01-01', 'T1', 'prospecting', 0.25, 1.0),
            (date '2025-01-01', 'T1', 'qualification', null, 0.25))
            as t(cohort_month, team_id, stage, stage_conversion_rate, cumulative_conversion_rate)""")
        con.execute("""create table marts.mart_lead_funnel_monthly as select * from (values
            (date '2025-01-01', 'web', 0.5, 0.25, 0.1), (date '2025-01-01', 'event', 1.0, 0.0, 0.0))
            as t(cohort_month, lead_source, qualification_rate, conversion_rate, lead_to_win_rate)""")
        con.execute("""create table marts.mart_rep_kpi_monthly (month date, rep_id varchar,
            net_revenue decimal(18,2), win_rate double, csat_rate double, nps double)""")
        con.executemany("insert into marts.mart_rep_kpi_monthly values (?, ?, ?, ?, ?, ?)", REP_KPI_ROWS)
        con.execute("""create table marts.mart_team_kpi_monthly as select * from (values
            (date '2025-01-01', 'T1', 0.5, 1.0, 100.0), (date '2025-02-01', 'T1', null, 0.5, -50.0))
            as t(month, team_id, win_rate, csat_rate, nps)""")
        con.execute("""create table marts.mart_pipeline_forecast as select * from (values
            (date '2025-03-01', 'T1'), (date '2025-04-01', 'T1')) as t(close_month, team_id)""")
        con.execute("""create table marts.mart_budget_vs_actual as select * from (values
            (date '2025-01-01', 'T1', 'travel'), (date '2025-01-01', 'T1', 'marketing'))
            as t(month, team_id, category)""")
        con.execute("""create table marts.dim_customers as select * from (values
            ('A1', 3, 1, date '2025-03-20', date '2025-03-10', 11), ('A2', 0, 0, null, null, null))
            as t(account_id, activities_90d, visits_90d, last_activity_date, last_visit_date, days_since_last_touch)""")
        con.execute("""create table marts.fct_customer_lifecycle_monthly as select * from (values
            (date '2025-01-01', 'A1'), (date '2025-01-01', 'A2'), (date '2025-02-01', 'A1'),
            (date '2025-02-01', 'A2'), (date '2025-02-01', 'A3')) as t(month, account_id)""")
        con.execute("""create table marts.mart_lifecycle_monthly as select * from (values
            (date '2025-01-01', 'prospect', 0.5), (date '2025-01-01', 'new', 0.5))
            as t(month, lifecycle_stage, share_of_customers)""")
        con.execute("""create table marts.mart_service_monthly as select * from (values
            (date '2025-01-01', 'T1', 0.0), (date '2025-02-01', 'T1', 1.0))
            as t(month, team_id, first_response_breach_rate)""")
        _history_marts(con)
        _product_and_loss_marts(con)
        _quality_of_sale(con)
    return path


def _quality_of_sale(con) -> None:
    """The KPI marts' quality-of-sale columns. R1 and R2 are T1's reps; T1 counts its customers
    once: January 2 (R1's 2), February 1 (R1's 1); its complaints equal the service mart's (1, 0)."""
    columns = (
        "team_id varchar",
        "active_customers bigint",
        "new_customers bigint",
        "complaints_opened bigint",
        "complaints_per_100_orders double",
        "refund_rate double",
        "csat_target decimal(18,2)",
        "csat_attainment double",
        "nps_target decimal(18,2)",
    )
    for column in columns:
        con.execute(f"alter table marts.mart_rep_kpi_monthly add column {column}")
        if not column.startswith("team_id"):
            con.execute(f"alter table marts.mart_team_kpi_monthly add column {column}")
    con.execute("""update marts.mart_rep_kpi_monthly set team_id = 'T1', active_customers = 1, new_customers = 0,
        complaints_opened = 0, complaints_per_100_orders = 0, refund_rate = 0, csat_target = 0.9,
        csat_attainment = csat_rate / 0.9, nps_target = 30""")
    con.execute("""update marts.mart_rep_kpi_monthly set active_customers = 2, new_customers = 1,
        complaints_opened = 1, complaints_per_100_orders = 50, refund_rate = 0.1 where month = '2025-01-01'""")
    con.execute("""update marts.mart_team_kpi_monthly set active_customers = 1, new_customers = 0,
        complaints_opened = 0, complaints_per_100_orders = 0, refund_rate = 0, csat_target = 0.9,
        csat_attainment = csat_rate / 0.9, nps_target = 30""")
    con.execute("""update marts.mart_team_kpi_monthly set active_customers = 2, new_customers = 1,
        complaints_opened = 1, complaints_per_100_orders = 50, refund_rate = 0.1 where month = '2025-01-01'""")
    con.execute("alter table marts.mart_service_monthly add column complaints_opened bigint")
    con.execute(
        "update marts.mart_service_monthly set complaints_opened = case when month = '2025-01-01' then 1 else 0 end"
    )


def _product_and_loss_marts(con) -> None:
    """Product sales (a NULL channel and a product without unit cost: NULL cost) and loss reasons
    (a NULL reason; T1's February shares 0.75 + 0.25 add up to 1)."""
    con.execute("""create table marts.mart_sales_by_product_monthly as select * from (values
        (date '2025-01-01', 'P1', 'online', 'East', 2.0, 20.0, 1.0, 19.0, 8.0),
        (date '2025-01-01', 'P1', null, 'East', 1.0, 10.0, 0.0, 10.0, 4.0),
        (date '2025-01-01', 'P2', 'online', 'East', 1.0, 50.0, 0.0, 50.0, null))
        as t(month, product_id, channel, region, units_sold, gross_amount, discount_amount, net_amount,
             cost_amount)""")
    con.execute("""create table marts.mart_loss_reasons_monthly as select * from (values
        (date '2025-02-01', 'T1', 'price', 0.75), (date '2025-02-01', 'T1', null, 0.25),
        (date '2025-02-01', 'T2', 'budget', 1.0)) as t(month, team_id, lost_reason, share_of_lost)""")
    # February's treatment cells hold January's 2 lifecycle accounts: A1 a prospect, called and
    # ordering; A2 new, untouched (fct_customer_lifecycle_monthly above)
    con.execute("""create table marts.mart_customer_treatment_monthly as select * from (values
        (date '2025-02-01', 'T1', 'prospect', 1, 1, 0, 1.0, 1, 0, 1.0, null, null, null),
        (date '2025-02-01', 'T1', 'new', 1, 0, 1, 0.0, 0, 0, null, 0.0, null, null))
        as t(month, team_id, lifecycle_stage, customers, treated_customers, untreated_customers,
             treatment_rate, ordered_treated, ordered_untreated, order_rate_treated, order_rate_untreated,
             reactivated_treated, reactivated_untreated)""")


def _history_marts(con) -> None:
    """The history marts (marts.md "History: what was known then"), with the columns their checks read."""
    con.execute("""create table marts.fct_pipeline_snapshots as select * from (values
        (date '2025-01-31', 'OP1', 0.1), (date '2025-02-28', 'OP1', 0.8))
        as t(snapshot_date, opportunity_id, stage_probability)""")
    columns = [f"{m}_count bigint, {m}_amount decimal(18,2)" for m in MOVEMENT_COUNTS]
    con.execute(f"""create table marts.mart_pipeline_movement_monthly (month date, team_id varchar,
        {", ".join(columns)}, amount_increased decimal(18,2), amount_decreased decimal(18,2))""")
    values = [v for m in MOVEMENT_COUNTS for v in MOVEMENT_ROW.get(m, (0, 0))]
    con.execute(
        f"insert into marts.mart_pipeline_movement_monthly values "
        f"(date '2025-02-01', 'T1', {', '.join(map(str, values))}, 20, 0)"
    )
    con.execute("""create table marts.mart_stage_win_rates as select * from (values
        (1, 'T1', 0.5, 0.1), (1, null, 0.25, 0.1), (2, null, null, 0.2))
        as t(stage_order, team_id, historical_win_rate, seed_probability)""")
    con.execute("""create table marts.mart_forecast_accuracy as select * from (values
        (date '2025-01-31', date '2025-02-01', 'T1'), (date '2025-01-31', date '2025-03-01', 'T1'))
        as t(forecast_date, close_month, team_id)""")


def copy_warehouse(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def stamp_passing_audit(settings, run_id: str) -> None:
    """The build warehouse as a run that built it and whose three suites passed leaves it: stamped
    with run_id (publish.stamp_build), and one passing result per suite stored for run_id."""
    from orchestration.publish import stamp_build
    from orchestration.quality import CheckResult, results_store
    from orchestration.quality.suites import LAYERS

    stamp_build(settings, run_id)
    for layer in LAYERS:
        results_store.append(
            settings.quality_dir,
            [
                CheckResult.now(
                    run_id=run_id,
                    layer=layer,
                    asset=f"{layer}/stand_in",
                    check_name="passes",
                    passed=True,
                    severity="error",
                    observed_value="0",
                    details="",
                )
            ],
        )


def assert_the_audit_refuses_the_publish(data_dir: Path, run_id: str, failed_check: str) -> None:
    """Yesterday's build is published (its audit passed); today's build, made by run_id, differs,
    and its publish, whose suite stored failed_check as failed, is refused: the serving warehouse
    stays yesterday's, byte for byte."""
    import pytest

    from orchestration.publish import PublishRefused, last_publish, publish, stamp_build
    from orchestration.settings import get_settings

    settings = get_settings(data_dir)
    stamp_passing_audit(settings, "yesterday")
    publish(settings, "yesterday")
    served = settings.serving_warehouse.read_bytes()
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("create or replace table main.todays_build as select 1 as changed")
    stamp_build(settings, run_id)
    with pytest.raises(PublishRefused, match=failed_check):
        publish(settings, run_id)
    assert settings.serving_warehouse.read_bytes() == served
    assert last_publish(settings).run_id == "yesterday"
