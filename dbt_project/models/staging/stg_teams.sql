-- Sales teams and their region.
-- Snapshot entity: the newest file per source profile is the current state.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'teams'), ['team_id'], 'S', effective_date='valid_from') }}
),

final as (
    select
        team_id,
        team_name,
        region,
        manager_rep_id,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
