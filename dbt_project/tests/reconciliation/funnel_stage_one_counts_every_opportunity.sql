-- Every opportunity reached stage 1, so mart_funnel_monthly's stage-1 opportunities_reached,
-- summed over cohorts and teams, equals the number of opportunities in staging. Returns a row
-- when they differ.
{{ config(meta={'dagster': {'ref': {'name': 'mart_funnel_monthly'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_funnel_monthly'), ref('stg_opportunities')] %}
{% if reconciliation_inputs_exist(inputs) %}
with funnel as (
    select coalesce(sum(opportunities_reached), 0) as opportunities
    from {{ ref('mart_funnel_monthly') }}
    where stage_order = 1
),

opportunities as (
    select count(*) as opportunities from {{ ref('stg_opportunities') }}
)

select funnel.opportunities as funnel_stage_one, opportunities.opportunities as staged_opportunities
from funnel
cross join opportunities
where funnel.opportunities <> opportunities.opportunities
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
