-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- The pipeline waterfall of each month and team (marts.md mart_pipeline_movement_monthly): from the
-- snapshot ending the previous month (start; none for the first month of data) to the one ending
-- this month (end; the as_of_date for the as_of month). Each opportunity counts in exactly one way
-- per team, so open_end = open_start + new + increased - decreased - won - lost + moved_in -
-- moved_out + other_in - other_out (tests/reconciliation/pipeline_movement_reconciles.sql).
with snapshot_dates as (
    select * from {{ ref('int_pipeline_snapshot_dates') }}
),

snapshots as (
    select * from {{ ref('fct_pipeline_snapshots') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
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

months as (
    select * from {{ ref('int_months') }}
),

month_bounds as (
    select
        months.month,
        starts.snapshot_date as start_date,
        ends.snapshot_date as end_date
    from months
    inner join snapshot_dates as ends
        on months.month = ends.month
    left join snapshot_dates as starts
        on starts.is_month_end
       and starts.month = cast({{ dbt.dateadd('month', -1, 'months.month') }} as date)
),

start_rows as (
    select month_bounds.month, snapshots.*
    from month_bounds
    inner join snapshots
        on month_bounds.start_date = snapshots.snapshot_date
),

end_rows as (
    select month_bounds.month, snapshots.*
    from month_bounds
    inner join snapshots
        on month_bounds.end_date = snapshots.snapshot_date
),

month_opportunities as (
    select month, opportunity_id from start_rows
    union
    select month, opportunity_id from end_rows
),

movements as (
    select
        month_opportunities.month,
        start_rows.opportunity_id is not null as in_start,
        end_rows.opportunity_id is not null as in_end,
        start_rows.team_id as start_team_id,
        end_rows.team_id as end_team_id,
        coalesce(start_rows.amount, 0) as start_amount,
        coalesce(end_rows.amount, 0) as end_amount,
        start_rows.close_month as start_close_month,
        end_rows.close_month as end_close_month,
        coalesce(opportunities.is_closed and opportunities.close_date <= month_bounds.end_date, false)
            as closed_in_month,
        coalesce(opportunities.is_won, false) as is_won,
        coalesce(opportunities.created_date >= month_opportunities.month, false) as created_in_month
    from month_opportunities
    inner join month_bounds
        on month_opportunities.month = month_bounds.month
    left join start_rows
        on month_opportunities.month = start_rows.month
       and month_opportunities.opportunity_id = start_rows.opportunity_id
    left join end_rows
        on month_opportunities.month = end_rows.month
       and month_opportunities.opportunity_id = end_rows.opportunity_id
    left join opportunities
        on month_opportunities.opportunity_id = opportunities.opportunity_id
),

-- what each deal brings to the team it is on at the end of the month
end_side as (
    select
        month,
        end_team_id as team_id,
        count(*) as open_end_count,
        sum(end_amount) as open_end_amount,
        sum(case when not in_start and created_in_month then 1 else 0 end) as new_count,
        sum(case when not in_start and created_in_month then end_amount else 0 end) as new_amount,
        sum(case when not in_start and not created_in_month then 1 else 0 end) as other_in_count,
        sum(case when not in_start and not created_in_month then end_amount else 0 end) as other_in_amount,
        sum(case when in_start and coalesce(start_team_id, '') <> coalesce(end_team_id, '') then 1 else 0 end)
            as moved_in_count,
        sum(case when in_start and coalesce(start_team_id, '') <> coalesce(end_team_id, '') then end_amount else 0 end)
            as moved_in_amount,
        sum(case when in_start and coalesce(start_team_id, '') = coalesce(end_team_id, '')
            and end_amount > start_amount then end_amount - start_amount else 0 end) as amount_increased,
        sum(case when in_start and coalesce(start_team_id, '') = coalesce(end_team_id, '')
            and end_amount < start_amount then start_amount - end_amount else 0 end) as amount_decreased,
        sum(case when in_start and end_close_month > start_close_month then 1 else 0 end) as pushed_out_count,
        sum(case when in_start and end_close_month < start_close_month then 1 else 0 end) as pulled_in_count
    from movements
    where in_end
    group by month, end_team_id
),

-- what each deal takes from the team it was on at the start of the month
start_side as (
    select
        month,
        start_team_id as team_id,
        count(*) as open_start_count,
        sum(start_amount) as open_start_amount,
        sum(case when not in_end and closed_in_month and is_won then 1 else 0 end) as won_count,
        sum(case when not in_end and closed_in_month and is_won then start_amount else 0 end) as won_amount,
        sum(case when not in_end and closed_in_month and not is_won then 1 else 0 end) as lost_count,
        sum(case when not in_end and closed_in_month and not is_won then start_amount else 0 end) as lost_amount,
        sum(case when in_end and coalesce(start_team_id, '') <> coalesce(end_team_id, '') then 1 else 0 end)
            as moved_out_count,
        sum(case when in_end and coalesce(start_team_id, '') <> coalesce(end_team_id, '') then start_amount else 0 end)
            as moved_out_amount,
        sum(case when not in_end and not closed_in_month then 1 else 0 end) as other_out_count,
        sum(case when not in_end and not closed_in_month then start_amount else 0 end) as other_out_amount
    from movements
    where in_start
    group by month, start_team_id
),

-- created and closed within the month: in no snapshot; its team is its owner's team at the month's end
created_and_closed as (
    select
        month_bounds.month,
        rep_assignments.team_id,
        count(*) as created_and_closed_count
    from month_bounds
    inner join opportunities
        on opportunities.is_closed
       and opportunities.created_date between month_bounds.month and month_bounds.end_date
       and opportunities.close_date between month_bounds.month and month_bounds.end_date
    left join state_intervals
        on opportunities.opportunity_id = state_intervals.opportunity_id
       and {{ holds_on('state_intervals', 'month_bounds.end_date') }}
    left join rep_assignments
        on coalesce(state_intervals.owner_rep_id, opportunities.owner_rep_id) = rep_assignments.rep_id
       and {{ holds_on('rep_assignments', 'month_bounds.end_date') }}
    group by month_bounds.month, rep_assignments.team_id
),

team_list as (
    select team_id from teams
    union
    select team_id from snapshots
    where team_id is not null
),

spine as (
    select month_bounds.month, month_bounds.start_date, month_bounds.end_date, team_list.team_id
    from month_bounds
    cross join team_list
),

final as (
    select
        spine.month,
        cast(spine.team_id as {{ dbt.type_string() }}) as team_id,
        spine.start_date as start_snapshot_date,
        spine.end_date as end_snapshot_date,
        {%- for measure in ['open_start', 'open_end', 'new', 'won', 'lost', 'moved_in', 'moved_out', 'other_in', 'other_out'] %}
        cast(coalesce({{ 'start_side' if measure in ('open_start', 'won', 'lost', 'moved_out', 'other_out') else 'end_side' }}.{{ measure }}_count, 0) as bigint) as {{ measure }}_count,
        cast(coalesce({{ 'start_side' if measure in ('open_start', 'won', 'lost', 'moved_out', 'other_out') else 'end_side' }}.{{ measure }}_amount, 0) as decimal(18, 2)) as {{ measure }}_amount,
        {%- endfor %}
        cast(coalesce(end_side.amount_increased, 0) as decimal(18, 2)) as amount_increased,
        cast(coalesce(end_side.amount_decreased, 0) as decimal(18, 2)) as amount_decreased,
        cast(coalesce(end_side.pushed_out_count, 0) as bigint) as pushed_out_count,
        cast(coalesce(end_side.pulled_in_count, 0) as bigint) as pulled_in_count,
        cast(coalesce(created_and_closed.created_and_closed_count, 0) as bigint) as created_and_closed_count
    from spine
    left join start_side
        on spine.month = start_side.month and spine.team_id = start_side.team_id
    left join end_side
        on spine.month = end_side.month and spine.team_id = end_side.team_id
    left join created_and_closed
        on spine.month = created_and_closed.month and spine.team_id = created_and_closed.team_id
)

select * from final
