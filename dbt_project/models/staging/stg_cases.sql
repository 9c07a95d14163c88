-- Service cases: complaints, inquiries, returns, technical issues.
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'cases'), ['case_id'], 'E') }}
),

final as (
    select
        case_id,
        account_id,
        opened_at,
        category,
        severity,
        channel,
        owner_rep_id,
        first_response_at,
        resolved_at,
        status,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
