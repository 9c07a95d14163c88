-- Per opportunity, what fct_opportunities needs to tell a deal going cold (marts.md "The
-- customer-treatment loop"): its last activity (activities naming it, up to as_of_date) and the
-- date it entered its current stage (the latest stage-history entry into that stage up to
-- as_of_date; NULL when the history has none).
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with calendar as (
    select * from {{ ref('int_calendar') }}
),

opportunities as (
    select * from {{ ref('stg_opportunities') }}
),

activities as (
    select * from {{ ref('stg_activities') }}
),

stage_history as (
    select * from {{ ref('stg_opportunity_stage_history') }}
),

last_activity as (
    select
        activities.opportunity_id,
        max(cast(activities.occurred_at as date)) as last_activity_date
    from activities
    cross join calendar
    where
        activities.opportunity_id is not null
        and activities.occurred_at < calendar.now_ts
    group by activities.opportunity_id
),

current_stage_entry as (
    select
        opportunities.opportunity_id,
        max(cast(stage_history.entered_at as date)) as current_stage_entered_date
    from opportunities
    inner join stage_history
        on
            opportunities.opportunity_id = stage_history.opportunity_id
            and opportunities.stage = stage_history.stage
    cross join calendar
    where stage_history.entered_at < calendar.now_ts
    group by opportunities.opportunity_id
),

final as (
    select
        opportunities.opportunity_id,
        last_activity.last_activity_date,
        current_stage_entry.current_stage_entered_date
    from opportunities
    left join last_activity
        on opportunities.opportunity_id = last_activity.opportunity_id
    left join current_stage_entry
        on opportunities.opportunity_id = current_stage_entry.opportunity_id
)

select * from final
