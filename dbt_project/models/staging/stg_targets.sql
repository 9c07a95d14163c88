-- Rep and team targets per month (exactly one of rep_id, team_id).
-- Snapshot entity: the newest file per source profile is the current state.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'targets'), ['month', 'metric', 'rep_id', 'team_id'], 'S') }}
),

final as (
    select
        month,
        metric,
        target_value,
        rep_id,
        team_id,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
