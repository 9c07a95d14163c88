"""The mart contract of ../shared/spec/marts.md, transcribed by hand: every table, its grain and
every column it names, checked against the published demo warehouse. Extra columns (numerators
and denominators of ratios) are allowed; a missing or renamed column is a breaking change."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import shared_path

KPI_COLUMNS = """rep_name team_id region gross_revenue refunds_amount net_revenue orders_count units_sold
    active_customers new_customers opportunities_created opportunities_won opportunities_lost won_amount
    win_rate avg_deal_size avg_sales_cycle_days calls visits meetings demos emails_sent inbound_emails
    inbound_emails_answered avg_email_response_hours nps_responses nps_promoters nps_detractors nps
    csat_responses csat_satisfied csat_rate revenue_target new_customers_target visits_target
    revenue_attainment new_customers_attainment visits_attainment complaints_opened complaints_per_100_orders
    refund_rate csat_target csat_attainment nps_target nps_gap net_revenue_prev_month
    revenue_growth_mom net_revenue_prev_year revenue_growth_yoy""".split()

CONTRACT: dict[str, tuple[list[str], list[str]]] = {
    # table: (grain, columns)
    "fct_opportunities": (
        ["opportunity_id"],
        """opportunity_id account_id owner_rep_id team_id region lead_id
        lead_source product_id created_date close_date stage stage_order status amount stage_probability
        weighted_amount max_stage_order_reached sales_cycle_days age_days is_closed is_won last_activity_date
        days_in_current_stage is_past_due is_stale""".split(),
    ),
    "mart_funnel_monthly": (
        ["cohort_month", "team_id", "stage_order"],
        """cohort_month team_id stage stage_order
        opportunities_reached opportunities_advanced stage_conversion_rate cumulative_conversion_rate
        avg_days_in_stage""".split(),
    ),
    "mart_lead_funnel_monthly": (
        ["cohort_month", "lead_source"],
        """cohort_month lead_source leads_created
        leads_qualified leads_converted opportunities_won won_amount qualification_rate conversion_rate
        lead_to_win_rate avg_days_to_convert""".split(),
    ),
    "mart_rep_kpi_monthly": (["month", "rep_id"], ["month", "rep_id", *KPI_COLUMNS]),
    "mart_team_kpi_monthly": (
        ["month", "team_id"],
        [
            "month",
            "team_id",
            *[c for c in KPI_COLUMNS if c not in ("rep_name", "team_id", "region")],
            "total_spend",
            "spend_to_revenue_ratio",
            "open_pipeline_start",
            "sales_velocity_per_day",
        ],
    ),
    "mart_pipeline_forecast": (
        ["close_month", "team_id"],
        """close_month team_id revenue_target won_amount
        open_pipeline_amount weighted_pipeline_amount forecast_amount remaining_target coverage_ratio
        gap_to_target""".split(),
    ),
    "mart_budget_vs_actual": (
        ["month", "team_id", "category"],
        """month team_id category budget_amount
        actual_amount variance variance_pct utilization ytd_budget ytd_actual ytd_variance
        is_over_budget""".split(),
    ),
    "dim_customers": (
        ["account_id"],
        """account_id account_name industry region city owner_rep_id team_id
        created_date first_order_date last_order_date lifetime_orders lifetime_net_revenue orders_365d
        net_revenue_365d recency_days r_score f_score m_score rfm_code lifecycle_stage recommended_action
        latest_nps_score open_cases last_activity_date last_visit_date activities_90d visits_90d
        days_since_last_touch""".split(),
    ),
    "fct_customer_lifecycle_monthly": (
        ["month", "account_id"],
        """month account_id lifecycle_stage
        previous_stage net_revenue""".split(),
    ),
    "mart_lifecycle_monthly": (
        ["month", "lifecycle_stage"],
        """month lifecycle_stage customers
        share_of_customers entered exited reactivated net_revenue""".split(),
    ),
    "mart_service_monthly": (
        ["month", "team_id"],
        """month team_id cases_opened complaints_opened
        cases_resolved median_first_response_hours median_resolution_hours first_response_breaches
        first_response_breach_rate""".split(),
    ),
    "fct_pipeline_snapshots": (
        ["snapshot_date", "opportunity_id"],
        """snapshot_date opportunity_id owner_rep_id
        team_id stage stage_order amount close_date close_month stage_probability weighted_amount age_days
        is_past_due""".split(),
    ),
    "mart_pipeline_movement_monthly": (
        ["month", "team_id"],
        """month team_id open_start_count open_start_amount
        open_end_count open_end_amount new_count new_amount won_count won_amount lost_count lost_amount
        moved_in_count moved_in_amount moved_out_count moved_out_amount amount_increased amount_decreased
        other_in_count other_in_amount other_out_count other_out_amount pushed_out_count pulled_in_count
        created_and_closed_count""".split(),
    ),
    "mart_stage_win_rates": (
        ["stage_order", "team_id"],
        """stage_order team_id closed_reached won
        historical_win_rate seed_probability""".split(),
    ),
    "mart_forecast_accuracy": (
        ["forecast_date", "close_month", "team_id"],
        """forecast_date close_month team_id
        horizon_months won_amount_then weighted_pipeline_then forecast_amount calibrated_forecast_amount
        commit_amount actual_won_amount error abs_pct_error calibrated_abs_pct_error is_final""".split(),
    ),
    "mart_sales_by_product_monthly": (
        ["month", "product_id", "channel", "region"],
        """month product_id channel
        region product_name category orders_count customers units_sold gross_amount discount_amount net_amount
        refunds_amount net_revenue cost_amount gross_margin gross_margin_rate""".split(),
    ),
    "mart_loss_reasons_monthly": (
        ["month", "team_id", "lost_reason"],
        """month team_id lost_reason lost_count
        lost_amount share_of_lost""".split(),
    ),
    "mart_customer_treatment_monthly": (
        ["month", "team_id", "lifecycle_stage"],
        """month team_id lifecycle_stage
        customers treated_customers treatment_rate ordered_treated ordered_untreated order_rate_treated
        order_rate_untreated order_rate_lift reactivated_treated reactivated_untreated""".split(),
    ),
}

QUALITY = {
    "ingestion_ledger": """batch_id profile entity file_path file_sha256 file_bytes status rows_read rows_loaded
        rows_quarantined error started_at finished_at snapshot_date retired_at retired_reason
        missing_columns lookup_files""".split(),
    "quarantine": "batch_id profile entity file_path row_number raw_record reason quarantined_at".split(),
    "check_results": """run_id layer asset check_name passed severity observed_value details
        checked_at""".split(),
}


@pytest.fixture(scope="module")
def con(demo_run):
    shared_path("spec", "marts.md")  # the contract these lists transcribe
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as connection:
        yield connection


def columns_of(con, schema: str, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    )


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_mart_has_every_contract_column_and_a_unique_grain(con, table):
    grain, expected = CONTRACT[table]
    actual = columns_of(con, "marts", table)
    assert actual, f"marts.{table} does not exist"
    missing = [c for c in expected if c not in actual]
    assert not missing, f"marts.{table} lacks {missing}"
    keys = ", ".join(grain)
    [(rows, distinct)] = con.execute(f"select count(*), count(distinct ({keys})) from marts.{table}").fetchall()
    assert rows > 0, f"marts.{table} is empty on the demo data"
    assert rows == distinct, f"marts.{table} grain ({keys}) is not unique"


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_money_is_decimal_18_2_and_months_are_dates(con, table):
    actual = columns_of(con, "marts", table)
    for column, data_type in actual.items():
        if column in ("month", "cohort_month", "close_month"):
            assert data_type == "DATE", (table, column)
        if column.endswith("_amount") or column.endswith("revenue") or column in ("amount", "won_amount"):
            assert data_type == "DECIMAL(18,2)", (table, column, data_type)


@pytest.mark.parametrize("table", sorted(QUALITY))
def test_quality_tables_have_the_contract_columns(demo_run, table):
    # The build warehouse has the ledger and the quarantine; the published file carries the ledger
    # and the check results but never the quarantine (rejected rows as landed, personal data included)
    # (check_results is added at publish, from the results store).
    if table != "check_results":
        build = demo_run.data_dir / "warehouse" / "build.duckdb"
        with duckdb.connect(str(build), read_only=True) as con:
            assert list(columns_of(con, "quality", table)) == QUALITY[table]
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        published = list(columns_of(con, "quality", table))
    assert published == ([] if table == "quarantine" else QUALITY[table])


def test_no_email_or_phone_column_in_any_mart(con):
    names = [
        n
        for (n,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
        ).fetchall()
    ]
    assert not [
        n
        for n in names
        if "email" in n
        and n
        not in (
            "emails_sent",
            "inbound_emails",
            "inbound_emails_answered",
            "avg_email_response_hours",
            "email_response_hours_total",
        )
    ]
    assert not [n for n in names if "phone" in n]
