-- Service cases: complaints, inquiries, returns, technical issues.
-- Event entity: latest file, then latest row, wins per key.
-- Incremental by key: a run recomputes only the cases with a raw row newer than the table
-- (macros/incremental_staging.sql). A table, read by many models, tests and checks (macros/stored_staging.sql).
{{ config(**incremental_staging('case_id')) }}
with raw_cases as (
    select * from {{ source('raw', 'cases') }}
),

{% if is_incremental() %}
watermark as (
    {{ staging_watermark() }}
),

changed_keys as (
    select raw_cases.case_id
    from raw_cases
    cross join watermark
    where raw_cases._loaded_at > watermark.loaded_at
),

{% endif %}
keyed_rows as (
    select * from raw_cases
    {% if is_incremental() %}
    where case_id in (select case_id from changed_keys)
    {% endif %}
),

versions as (
    {{ latest_version('keyed_rows', ['case_id'], 'E') }}
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
