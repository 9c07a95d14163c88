-- NPS (0-10) and CSAT (1-5) survey responses.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'survey_responses'), ['response_id'], 'E') }}
),

final as (
    select
        response_id,
        survey_type,
        submitted_at,
        score,
        account_id,
        contact_id,
        order_id,
        case_id,
        comment,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
