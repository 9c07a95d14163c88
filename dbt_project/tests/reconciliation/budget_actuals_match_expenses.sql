-- Every expense lands in the spend marts exactly once: actual_amount summed over
-- mart_budget_vs_actual, and total_spend summed over mart_team_kpi_monthly, each equal the sum of
-- stg_expenses amounts. Returns a row per mart whose total differs.
{{ config(meta={'dagster': {'ref': {'name': 'mart_budget_vs_actual'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_budget_vs_actual'), ref('mart_team_kpi_monthly'), ref('stg_expenses')] %}
{% if reconciliation_inputs_exist(inputs) %}
with expenses as (
    select coalesce(sum(amount), 0) as amount from {{ ref('stg_expenses') }}
),

mart_totals as (
    select 'mart_budget_vs_actual' as mart, coalesce(sum(actual_amount), 0) as amount
    from {{ ref('mart_budget_vs_actual') }}
    union all
    select 'mart_team_kpi_monthly' as mart, coalesce(sum(total_spend), 0) as amount
    from {{ ref('mart_team_kpi_monthly') }}
)

select mart_totals.mart, mart_totals.amount as mart_amount, expenses.amount as expenses_amount
from mart_totals
cross join expenses
where mart_totals.amount <> expenses.amount
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
