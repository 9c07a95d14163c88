-- Calls, visits, meetings, demos and e-mails.
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'activities'), ['activity_id'], 'E') }}
),

final as (
    select
        activity_id,
        rep_id,
        account_id,
        opportunity_id,
        activity_type,
        direction,
        occurred_at,
        responded_at,
        duration_minutes,
        outcome,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
