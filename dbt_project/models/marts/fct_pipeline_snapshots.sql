-- The pipeline as it stood at the end of each snapshot date (marts.md fct_pipeline_snapshots): one
-- row per snapshot date x opportunity open then. Open at d = created on or before d and not closed
-- at d (closed now with a close date <= d). Stage, amount, close date and owner are their state at
-- d; an open deal with no known open stage is at the first stage; the team is the owner's team on d.
with snapshot_dates as (
    select * from {{ ref('int_pipeline_snapshot_dates') }}
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

stages as (
    select * from {{ ref('opportunity_stages') }}
),

first_stage as (
    select stages.stage, stages.stage_order, stages.probability
    from stages
    where stages.stage_order = (select min(all_stages.stage_order) from stages as all_stages)
),

open_at_date as (
    select
        snapshot_dates.snapshot_date,
        opportunities.opportunity_id,
        opportunities.created_date
    from snapshot_dates
    inner join opportunities
        on
            snapshot_dates.snapshot_date >= opportunities.created_date
            and not coalesce(opportunities.is_closed and snapshot_dates.snapshot_date >= opportunities.close_date, false)
),

state_at_date as (
    select
        open_at_date.snapshot_date,
        open_at_date.opportunity_id,
        open_at_date.created_date,
        state_intervals.owner_rep_id,
        coalesce(stages.stage, first_stage.stage) as stage,
        coalesce(stages.stage_order, first_stage.stage_order) as stage_order,
        coalesce(stages.probability, first_stage.probability) as stage_probability,
        state_intervals.amount,
        state_intervals.close_date
    from open_at_date
    left join state_intervals
        on
            open_at_date.opportunity_id = state_intervals.opportunity_id
            and {{ holds_on('state_intervals', 'open_at_date.snapshot_date') }}
    left join stages
        on state_intervals.stage = stages.stage
    cross join first_stage
),

final as (
    select
        state_at_date.snapshot_date,
        state_at_date.opportunity_id,
        state_at_date.owner_rep_id,
        rep_assignments.team_id,
        state_at_date.stage,
        cast(state_at_date.stage_order as integer) as stage_order,
        cast(state_at_date.amount as decimal(18, 2)) as amount,
        state_at_date.close_date,
        cast({{ dbt.date_trunc('month', 'state_at_date.close_date') }} as date) as close_month,
        cast(state_at_date.stage_probability as decimal(5, 4)) as stage_probability,
        cast(state_at_date.amount * state_at_date.stage_probability as decimal(18, 2)) as weighted_amount,
        cast({{ dbt.datediff('state_at_date.created_date', 'state_at_date.snapshot_date', 'day') }} as integer)
            as age_days,
        state_at_date.close_date < state_at_date.snapshot_date as is_past_due
    from state_at_date
    left join rep_assignments
        on
            state_at_date.owner_rep_id = rep_assignments.rep_id
            and {{ holds_on('rep_assignments', 'state_at_date.snapshot_date') }}
)

select * from final
