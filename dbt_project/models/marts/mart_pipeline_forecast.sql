-- Will we make the month (marts.md mart_pipeline_forecast): one row per team x close month, from
-- the as_of month through var('forecast_months_ahead') months after it. Open deals whose expected
-- close_date is past or missing are still to be closed, so they count in the as_of month. Teams are
-- those on as_of_date (fct_opportunities; marts.md "Point in time"). Revenue from no deal (repeat
-- orders) is not in the pipeline: the run rate adds the team's mean monthly net revenue of
-- completed orders without an opportunity_id over the three complete months before the as_of month.
with calendar as (
    select as_of_date, as_of_month from {{ ref('int_calendar') }}
),

orders as (
    select * from {{ ref('int_orders') }}
),

refunds as (
    select * from {{ ref('int_refunds') }}
),

assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

stg_targets as (
    select * from {{ ref('stg_targets') }}
),

fct_opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

int_teams as (
    select * from {{ ref('int_teams') }}
),

month_offsets as (
    {{ dbt.generate_series(var('forecast_months_ahead') + 1) }}
),

close_months as (
    select
        cast({{ dbt.dateadd('month', 'month_offsets.generated_number - 1', 'calendar.as_of_month') }} as date)
            as close_month
    from calendar
    cross join month_offsets
),

team_targets as (
    select month, team_id, sum(target_value) as revenue_target
    from stg_targets
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
            when
                opportunities.status = 'open'
                and (opportunities.close_date is null or opportunities.close_date < calendar.as_of_month)
                then calendar.as_of_month
            else cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date)
        end as close_month
    from fct_opportunities as opportunities
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

run_rate_window as (
    select
        cast({{ dbt.dateadd('month', -3, 'as_of_month') }} as date) as first_month,
        as_of_month as end_month,
        as_of_date
    from calendar
),

-- Net revenue of completed orders without a deal in the window: line net amounts of those dated
-- in it, minus the refunds dated in it on those orders (refunds count in the month of return_date).
no_deal_revenue as (
    select orders.rep_id, orders.net_amount as amount
    from orders
    cross join run_rate_window
    where
        orders.opportunity_id is null
        and orders.order_date >= run_rate_window.first_month
        and orders.order_date < run_rate_window.end_month
    union all
    select refunds.rep_id, -refunds.refund_amount as amount
    from refunds
    inner join orders
        on refunds.order_id = orders.order_id
    cross join run_rate_window
    where
        orders.opportunity_id is null
        and refunds.return_date >= run_rate_window.first_month
        and refunds.return_date < run_rate_window.end_month
),

run_rates as (
    select
        assignments.team_id,
        sum(no_deal_revenue.amount) / 3 as run_rate_amount
    from no_deal_revenue
    cross join run_rate_window
    inner join assignments
        on
            no_deal_revenue.rep_id = assignments.rep_id
            and {{ holds_on('assignments', 'run_rate_window.as_of_date') }}
    group by assignments.team_id
),

forecast as (
    select
        close_months.close_month,
        teams.team_id,
        team_targets.revenue_target,
        coalesce(deal_totals.won_amount, 0) as won_amount,
        coalesce(deal_totals.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(deal_totals.weighted_pipeline_amount, 0) as weighted_pipeline_amount,
        coalesce(run_rates.run_rate_amount, 0) as run_rate_amount
    from close_months
    cross join int_teams as teams
    left join team_targets
        on close_months.close_month = team_targets.month and teams.team_id = team_targets.team_id
    left join deal_totals
        on close_months.close_month = deal_totals.close_month and teams.team_id = deal_totals.team_id
    left join run_rates
        on teams.team_id = run_rates.team_id
),

with_remaining as (
    select
        forecast.*,
        forecast.won_amount + forecast.weighted_pipeline_amount as forecast_amount,
        case when forecast.revenue_target - forecast.won_amount > 0 then forecast.revenue_target - forecast.won_amount else 0 end
            as remaining_target
    from forecast
),

final as (
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
        cast(revenue_target - forecast_amount as decimal(18, 2)) as gap_to_target,
        cast(run_rate_amount as decimal(18, 2)) as run_rate_amount,
        cast(forecast_amount + run_rate_amount as decimal(18, 2)) as forecast_with_run_rate,
        cast(revenue_target - (forecast_amount + run_rate_amount) as decimal(18, 2)) as gap_with_run_rate
    from with_remaining
)

select * from final
