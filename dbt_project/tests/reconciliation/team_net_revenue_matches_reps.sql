-- Each month, net revenue summed over mart_team_kpi_monthly equals net revenue summed over the
-- rows of mart_rep_kpi_monthly whose rep belongs to a team (team figures are the sum of their
-- current reps' rows). Returns the months that differ.
{{ config(meta={'dagster': {'ref': {'name': 'mart_team_kpi_monthly'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_team_kpi_monthly'), ref('mart_rep_kpi_monthly')] %}
{% if reconciliation_inputs_exist(inputs) %}
with team_totals as (
    select month, sum(net_revenue) as net_revenue
    from {{ ref('mart_team_kpi_monthly') }}
    group by month
),

rep_totals as (
    select month, sum(net_revenue) as net_revenue
    from {{ ref('mart_rep_kpi_monthly') }}
    where team_id is not null
    group by month
)

select
    coalesce(team_totals.month, rep_totals.month) as month,
    team_totals.net_revenue as team_net_revenue,
    rep_totals.net_revenue as rep_net_revenue
from team_totals
full outer join rep_totals
    on team_totals.month = rep_totals.month
where coalesce(team_totals.net_revenue, 0) <> coalesce(rep_totals.net_revenue, 0)
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
