-- Each month, mart_sales_by_product_monthly summed over every product, channel and region equals
-- the team KPI mart's revenue figures summed over its teams (marts.md
-- mart_sales_by_product_monthly): net_amount = gross_revenue, refunds_amount = refunds_amount and
-- net_revenue = net_revenue. Both sides add the same per-line cents, so they must agree exactly.
-- Returns the months that differ.
{{ config(meta={'dagster': {'ref': {'name': 'mart_sales_by_product_monthly'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_sales_by_product_monthly'), ref('mart_team_kpi_monthly')] %}
{% if reconciliation_inputs_exist(inputs) %}
with product_totals as (
    select
        month,
        sum(net_amount) as gross_revenue,
        sum(refunds_amount) as refunds_amount,
        sum(net_revenue) as net_revenue
    from {{ ref('mart_sales_by_product_monthly') }}
    group by month
),

team_totals as (
    select
        month,
        sum(gross_revenue) as gross_revenue,
        sum(refunds_amount) as refunds_amount,
        sum(net_revenue) as net_revenue
    from {{ ref('mart_team_kpi_monthly') }}
    group by month
)

select
    coalesce(team_totals.month, product_totals.month) as month,
    product_totals.net_revenue as product_net_revenue,
    team_totals.net_revenue as team_net_revenue
from team_totals
full outer join product_totals
    on team_totals.month = product_totals.month
where coalesce(product_totals.gross_revenue, 0) <> coalesce(team_totals.gross_revenue, 0)
   or coalesce(product_totals.refunds_amount, 0) <> coalesce(team_totals.refunds_amount, 0)
   or coalesce(product_totals.net_revenue, 0) <> coalesce(team_totals.net_revenue, 0)
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
