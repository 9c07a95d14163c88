-- Will we make the month (marts.md mart_pipeline_forecast): one row per team x close month, from
-- the as_of month through var('forecast_months_ahead') months after it. Open deals whose expected
-- close_date is past or missing are still to be closed, so they count in the as_of month.
with calendar as (
    select as_of_month from {{ ref('int_calendar') }}
),

month_offsets as (
    {{ dbt.generate_series(var('forecast_months_ahead') + 1) }}
),

close_months as (
    select cast({{ dbt.dateadd('month', 'month_offsets.generated_number - 1', 'calendar.as_of_month') }} as date)
        as close_month
    from calendar
    cross join month_offsets
),

team_targets as (
    select month, team_id, sum(target_value) as revenue_target
    from {{ ref('stg_targets') }}
    where metric = 'net_revenue' and team_id is not null
    group by month, team_id
),

deals as (
    select
        opportunities.team_id,
        opportunities.status,
        opportunities.amount,
        opportunities.weighted_amount,
        case
            when opportunities.status = 'open'
                and (opportunities.close_date is null or opportunities.close_date < calendar.as_of_month)
                then calendar.as_of_month
            else cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date)
        end as close_month
    from {{ ref('fct_opportunities') }} as opportunities
    cross join calendar
    where opportunities.status in ('open', 'won')
),

deal_totals as (
    select
        team_id,
        close_month,
        sum(case when status = 'won' then amount else 0 end) as won_amount,
        sum(case when status = 'open' then amount else 0 end) as open_pipeline_amount,
        sum(case when status = 'open' then weighted_amount else 0 end) as weighted_pipeline_amount
    from deals
    group by team_id, close_month
),

forecast as (
    select
        close_months.close_month,
        teams.team_id,
        team_targets.revenue_target,
        coalesce(deal_totals.won_amount, 0) as won_amount,
        coalesce(deal_totals.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(deal_totals.weighted_pipeline_amount, 0) as weighted_pipeline_amount
    from close_months
    cross join {{ ref('int_teams') }} as teams
    left join team_targets
        on close_months.close_month = team_targets.month and teams.team_id = team_targets.team_id
    left join deal_totals
        on close_months.close_month = deal_totals.close_month and teams.team_id = deal_totals.team_id
),

with_remaining as (
    select
        forecast.*,
        won_amount + weighted_pipeline_amount as forecast_amount,
        case when revenue_target - won_amount > 0 then revenue_target - won_amount else 0 end
            as remaining_target
    from forecast
)

select
    close_month,
    cast(team_id as {{ dbt.type_string() }}) as team_id,
    cast(revenue_target as decimal(18, 2)) as revenue_target,
    cast(won_amount as decimal(18, 2)) as won_amount,
    cast(open_pipeline_amount as decimal(18, 2)) as open_pipeline_amount,
    cast(weighted_pipeline_amount as decimal(18, 2)) as weighted_pipeline_amount,
    cast(forecast_amount as decimal(18, 2)) as forecast_amount,
    -- NULL when the team has no target for the month (then coverage and gap are NULL too)
    cast(case when revenue_target is not null then remaining_target end as decimal(18, 2)) as remaining_target,
    {{ safe_divide('open_pipeline_amount', 'remaining_target') }} as coverage_ratio,
    cast(revenue_target - forecast_amount as decimal(18, 2)) as gap_to_target
from with_remaining
