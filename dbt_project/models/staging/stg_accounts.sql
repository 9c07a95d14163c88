-- Customer accounts (prospects included) and their owner.
-- Snapshot entity: the newest file per source profile is the current state.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'accounts'), ['account_id'], 'S', effective_date='valid_from') }}
),

final as (
    select
        account_id,
        account_name,
        industry,
        region,
        city,
        owner_rep_id,
        created_at,
        lead_source,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
