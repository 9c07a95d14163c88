-- When each opportunity entered each stage, with the deal's amount and expected close date then
-- where the CRM records them.
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'opportunity_stage_history'), ['opportunity_id', 'stage', 'entered_at'], 'E') }}
),

final as (
    select
        opportunity_id,
        stage,
        entered_at,
        amount,
        close_date,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
