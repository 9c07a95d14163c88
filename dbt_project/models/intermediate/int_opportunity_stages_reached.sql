-- One row per opportunity x funnel stage it reached (marts.md "Stages"): an opportunity reached
-- stage k when its history (stage history plus current stage) holds a stage of order >= k, so
-- skipped stages count; every opportunity reached the first stage; a won one reached every stage;
-- a lost one reached the highest order in its history before it was lost.
with stages as (
    select stage, stage_order, is_closed, is_won
    from {{ ref('opportunity_stages') }}
),

stg_opportunities as (
    select * from {{ ref('stg_opportunities') }}
),

stg_opportunity_stage_history as (
    select * from {{ ref('stg_opportunity_stage_history') }}
),

funnel_bounds as (
    select min(stage_order) as first_order, max(stage_order) as last_order
    from stages
),

opportunities as (
    select
        opps.opportunity_id,
        stages.stage_order as current_order,
        coalesce(stages.is_won, false) as is_won,
        coalesce(stages.is_closed and not stages.is_won, false) as is_lost
    from stg_opportunities as opps
    left join stages
        on opps.stage = stages.stage
),

history as (
    select hist.opportunity_id, hist.entered_at, stages.stage_order, stages.is_closed, stages.is_won
    from stg_opportunity_stage_history as hist
    inner join stages
        on hist.stage = stages.stage
),

-- The (last) time a lost opportunity was lost; history entered after it does not count.
lost_at as (
    select opportunity_id, max(entered_at) as lost_at
    from history
    where is_closed and not is_won
    group by opportunity_id
),

counted_history as (
    select history.opportunity_id, history.stage_order, history.entered_at
    from history
    inner join opportunities
        on history.opportunity_id = opportunities.opportunity_id
    left join lost_at
        on history.opportunity_id = lost_at.opportunity_id
    where
        history.stage_order is not null
        and (not opportunities.is_lost or lost_at.lost_at is null or history.entered_at < lost_at.lost_at)
),

reached_candidates as (
    select opportunity_id, stage_order from counted_history
    union all
    -- the current stage (closed_lost has no order, so a lost deal adds nothing here)
    select opportunity_id, current_order from opportunities
    where current_order is not null
    union all
    select opportunities.opportunity_id, funnel_bounds.last_order
    from opportunities cross join funnel_bounds
    where opportunities.is_won
    union all
    select opportunities.opportunity_id, funnel_bounds.first_order
    from opportunities cross join funnel_bounds
),

max_reached as (
    select opportunity_id, max(stage_order) as max_stage_order_reached
    from reached_candidates
    group by opportunity_id
),

stage_entries as (
    -- first time the opportunity entered each stage (a stage can be re-entered)
    select opportunity_id, stage_order, min(entered_at) as entered_at
    from counted_history
    group by opportunity_id, stage_order
),

reached as (
    select
        max_reached.opportunity_id,
        stages.stage_order,
        stages.stage,
        max_reached.max_stage_order_reached,
        stage_entries.entered_at
    from max_reached
    inner join stages
        on max_reached.max_stage_order_reached >= stages.stage_order
    left join stage_entries
        on
            max_reached.opportunity_id = stage_entries.opportunity_id
            and stages.stage_order = stage_entries.stage_order
),

final as (
    select
        opportunity_id,
        stage_order,
        stage,
        max_stage_order_reached,
        entered_at,
        -- entering the next stage (order k + 1); NULL when it was not reached or history lacks it
        lead(entered_at) over (partition by opportunity_id order by stage_order) as next_entered_at
    from reached
)

select * from final
