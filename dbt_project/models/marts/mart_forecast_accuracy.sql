-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- The forecast made at each month end against what happened (marts.md mart_forecast_accuracy): for
-- the three months after each month-end snapshot, per team, the seed-probability forecast and the
-- one calibrated with each stage's historical win rate, computed only from deals closed by the
-- forecast date (no look-ahead; the seed probability where none had closed), against the amount
-- actually won with a close date in the month.
{%- set month_end_of = dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'cast(' ~ dbt.date_trunc('month', '{d}') ~ ' as date)')) %}
with calendar as (
    select * from {{ ref('int_calendar') }}
),

snapshot_dates as (
    select * from {{ ref('int_pipeline_snapshot_dates') }}
),

snapshots as (
    select * from {{ ref('fct_pipeline_snapshots') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

stages_reached as (
    select * from {{ ref('int_opportunity_stages_reached') }}
),

state_intervals as (
    select * from {{ ref('int_opportunity_state_intervals') }}
),

rep_assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

teams as (
    select * from {{ ref('int_teams') }}
),

stages as (
    select * from {{ ref('opportunity_stages') }}
),

horizon_offsets as (
    {{ dbt.generate_series(3) }}
),

forecast_months as (
    select
        snapshot_dates.snapshot_date as forecast_date,
        snapshot_dates.month as forecast_month,
        horizon_offsets.generated_number as horizon_months,
        cast({{ dbt.dateadd('month', 'horizon_offsets.generated_number', 'snapshot_dates.month') }} as date)
            as close_month
    from snapshot_dates
    cross join horizon_offsets
    where snapshot_dates.is_month_end
),

-- closed deals per close month and open stage reached, summed below over months up to each forecast
closed_reached_by_month as (
    select
        cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date) as close_month,
        stages_reached.stage_order,
        count(*) as closed_reached,
        sum(case when opportunities.is_won then 1 else 0 end) as won
    from opportunities
    inner join stages_reached
        on opportunities.opportunity_id = stages_reached.opportunity_id
    where opportunities.is_closed and opportunities.close_date is not null
    group by cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date), stages_reached.stage_order
),

calibrated_rates as (
    -- win rate of each open stage over the deals closed by the forecast date (all teams together)
    select
        snapshot_dates.snapshot_date as forecast_date,
        stages.stage_order,
        coalesce(
            {{ safe_divide('sum(closed_reached_by_month.won)', 'sum(closed_reached_by_month.closed_reached)') }},
            cast(stages.probability as {{ type_double() }})
        ) as calibrated_probability
    from snapshot_dates
    cross join stages
    left join closed_reached_by_month
        on stages.stage_order = closed_reached_by_month.stage_order
       and snapshot_dates.month >= closed_reached_by_month.close_month
    where snapshot_dates.is_month_end and not stages.is_closed
    group by snapshot_dates.snapshot_date, stages.stage_order, stages.probability
),

pipeline_then as (
    select
        snapshots.snapshot_date as forecast_date,
        snapshots.close_month,
        snapshots.team_id,
        sum(coalesce(snapshots.weighted_amount, 0)) as weighted_pipeline_then,
        sum(coalesce(snapshots.amount, 0) * calibrated_rates.calibrated_probability) as calibrated_pipeline_then,
        sum(case when snapshots.stage_order >= 5 then coalesce(snapshots.amount, 0) else 0 end) as commit_pipeline_then
    from snapshots
    inner join calibrated_rates
        on snapshots.snapshot_date = calibrated_rates.forecast_date
       and snapshots.stage_order = calibrated_rates.stage_order
    group by snapshots.snapshot_date, snapshots.close_month, snapshots.team_id
),

won_then as (
    -- won by the forecast date with a close date in the close month, at the amount and team then
    select
        forecast_months.forecast_date,
        forecast_months.close_month,
        rep_assignments.team_id,
        sum(coalesce(state_intervals.amount, 0)) as won_amount_then
    from forecast_months
    inner join opportunities
        on opportunities.is_won
       and forecast_months.forecast_date >= opportunities.close_date
       and cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date) = forecast_months.close_month
    left join state_intervals
        on opportunities.opportunity_id = state_intervals.opportunity_id
       and {{ holds_on('state_intervals', 'forecast_months.forecast_date') }}
    left join rep_assignments
        on coalesce(state_intervals.owner_rep_id, opportunities.owner_rep_id) = rep_assignments.rep_id
       and {{ holds_on('rep_assignments', 'forecast_months.forecast_date') }}
    group by forecast_months.forecast_date, forecast_months.close_month, rep_assignments.team_id
),

actual_won as (
    -- won as of the as_of_date; the team is the owner's team in the close month
    select
        cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date) as close_month,
        rep_assignments.team_id,
        sum(opportunities.amount) as actual_won_amount
    from opportunities
    cross join calendar
    left join rep_assignments
        on opportunities.owner_rep_id = rep_assignments.rep_id
       and {{ holds_on('rep_assignments', 'least(calendar.as_of_date, cast(' ~ month_end_of.replace('{d}', 'opportunities.close_date') ~ ' as date))') }}
    where opportunities.is_won and opportunities.close_date <= calendar.as_of_date
    group by cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date), rep_assignments.team_id
),

team_list as (
    select team_id from teams
    union
    select team_id from snapshots
    where team_id is not null
),

forecasts as (
    select
        forecast_months.forecast_date,
        forecast_months.close_month,
        team_list.team_id,
        forecast_months.horizon_months,
        coalesce(won_then.won_amount_then, 0) as won_amount_then,
        coalesce(pipeline_then.weighted_pipeline_then, 0) as weighted_pipeline_then,
        coalesce(pipeline_then.calibrated_pipeline_then, 0) as calibrated_pipeline_then,
        coalesce(pipeline_then.commit_pipeline_then, 0) as commit_pipeline_then,
        coalesce(actual_won.actual_won_amount, 0) as actual_won_amount,
        forecast_months.close_month < calendar.as_of_month as is_final
    from forecast_months
    cross join team_list
    cross join calendar
    left join pipeline_then
        on forecast_months.forecast_date = pipeline_then.forecast_date
       and forecast_months.close_month = pipeline_then.close_month
       and team_list.team_id = pipeline_then.team_id
    left join won_then
        on forecast_months.forecast_date = won_then.forecast_date
       and forecast_months.close_month = won_then.close_month
       and team_list.team_id = won_then.team_id
    left join actual_won
        on forecast_months.close_month = actual_won.close_month
       and team_list.team_id = actual_won.team_id
),

amounts as (
    select
        forecast_date,
        close_month,
        team_id,
        horizon_months,
        cast(won_amount_then as decimal(18, 2)) as won_amount_then,
        cast(weighted_pipeline_then as decimal(18, 2)) as weighted_pipeline_then,
        cast(won_amount_then + weighted_pipeline_then as decimal(18, 2)) as forecast_amount,
        cast(calibrated_pipeline_then as decimal(18, 2)) as calibrated_pipeline_then,
        cast(won_amount_then + calibrated_pipeline_then as decimal(18, 2)) as calibrated_forecast_amount,
        cast(won_amount_then + commit_pipeline_then as decimal(18, 2)) as commit_amount,
        cast(actual_won_amount as decimal(18, 2)) as actual_won_amount,
        is_final
    from forecasts
),

final as (
    select
        forecast_date,
        close_month,
        cast(team_id as {{ dbt.type_string() }}) as team_id,
        cast(horizon_months as integer) as horizon_months,
        won_amount_then,
        weighted_pipeline_then,
        forecast_amount,
        calibrated_pipeline_then,
        calibrated_forecast_amount,
        commit_amount,
        actual_won_amount,
        cast(forecast_amount - actual_won_amount as decimal(18, 2)) as error,
        {{ safe_divide('abs(forecast_amount - actual_won_amount)', 'actual_won_amount') }} as abs_pct_error,
        cast(calibrated_forecast_amount - actual_won_amount as decimal(18, 2)) as calibrated_error,
        {{ safe_divide('abs(calibrated_forecast_amount - actual_won_amount)', 'actual_won_amount') }}
            as calibrated_abs_pct_error,
        is_final
    from amounts
)

select * from final
