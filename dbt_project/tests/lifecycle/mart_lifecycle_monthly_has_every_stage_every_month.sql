-- marts.md: mart_lifecycle_monthly has all six stages every month. Its stage list comes from the
-- lifecycle_actions seed, so this fails when the seed loses a stage (accepted_values on the mart
-- already rules out any other stage).
{{ config(meta={'dagster': {'ref': {'name': 'mart_lifecycle_monthly'}}}) }}  {#- the Dagster asset check's asset #}
select months.month, count(lifecycle.lifecycle_stage) as stages
from {{ ref('int_months') }} as months
left join {{ ref('mart_lifecycle_monthly') }} as lifecycle
    on months.month = lifecycle.month
group by months.month
having count(lifecycle.lifecycle_stage) <> 6
