-- Every event of every opportunity, in the order that decides its state on a past day (marts.md
-- "History: what was known then"): its stage-history rows (time = entered_at) and its raw versions
-- (time = updated_at, else the landing date). At one time a raw version comes after a history row,
-- then the later load wins. Closed stages say nothing about the open stage, so they are blanked;
-- their amount, close date and owner still count.
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with stage_history as (
    select * from {{ ref('stg_opportunity_stage_history') }}
),

versions as (
    select * from {{ ref('stg_opportunity_versions') }}
),

stages as (
    select * from {{ ref('opportunity_stages') }}
),

open_stages as (
    select stage from stages
    where not is_closed
),

history_events as (
    select
        stage_history.opportunity_id,
        stage_history.entered_at as event_at,
        'stage_history' as event_source,
        0 as source_rank,
        open_stages.stage,
        stage_history.amount,
        stage_history.close_date,
        cast(null as {{ dbt.type_string() }}) as owner_rep_id,
        stage_history._loaded_at,
        stage_history._batch_id,
        cast(0 as bigint) as _row_number
    from stage_history
    left join open_stages
        on stage_history.stage = open_stages.stage
),

version_events as (
    select
        versions.opportunity_id,
        versions.event_at,
        'version' as event_source,
        1 as source_rank,
        open_stages.stage,
        versions.amount,
        versions.close_date,
        versions.owner_rep_id,
        versions._loaded_at,
        versions._batch_id,
        versions._row_number
    from versions
    left join open_stages
        on versions.stage = open_stages.stage
),

all_events as (
    select * from history_events
    union all
    select * from version_events
),

final as (
    select
        opportunity_id,
        row_number() over (
            partition by opportunity_id
            order by event_at, source_rank, _loaded_at, _batch_id, _row_number, stage
        ) as event_seq,
        event_at,
        cast(event_at as date) as event_date,
        event_source,
        stage,
        amount,
        close_date,
        owner_rep_id
    from all_events
)

select * from final
