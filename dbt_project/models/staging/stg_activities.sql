-- Calls, visits, meetings, demos and e-mails.
-- Event entity: latest file, then latest row, wins per key.
-- Incremental by key: a run recomputes only the activities with a raw row newer than the table
-- (macros/incremental_staging.sql). A table, read by many models, tests and checks (macros/stored_staging.sql).
{{ config(**incremental_staging('activity_id')) }}
with raw_activities as (
    select * from {{ source('raw', 'activities') }}
),

{% if is_incremental() %}
watermark as (
    {{ staging_watermark() }}
),

changed_keys as (
    select raw_activities.activity_id
    from raw_activities
    cross join watermark
    where raw_activities._loaded_at > watermark.loaded_at
),

{% endif %}
keyed_rows as (
    select * from raw_activities
    {% if is_incremental() %}
    where activity_id in (select activity_id from changed_keys)
    {% endif %}
),

versions as (
    {{ latest_version('keyed_rows', ['activity_id'], 'E') }}
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
