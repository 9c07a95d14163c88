-- When each opportunity entered each stage, with the deal's amount and expected close date then
-- where the CRM records them.
-- Event entity: latest file, then latest row, wins per key.
-- Incremental by opportunity: a run recomputes every stage entry of the opportunities with a raw
-- row newer than the table (macros/incremental_staging.sql). A table, read by many models, tests
-- and checks (macros/stored_staging.sql).
{{ config(**incremental_staging('opportunity_id')) }}
with raw_stage_history as (
    select * from {{ source('raw', 'opportunity_stage_history') }}
),

{% if is_incremental() %}
watermark as (
    {{ staging_watermark() }}
),

changed_opportunities as (
    select raw_stage_history.opportunity_id
    from raw_stage_history
    cross join watermark
    where raw_stage_history._loaded_at > watermark.loaded_at
),

{% endif %}
keyed_rows as (
    select * from raw_stage_history
    {% if is_incremental() %}
    where opportunity_id in (select opportunity_id from changed_opportunities)
    {% endif %}
),

versions as (
    {{ latest_version('keyed_rows', ['opportunity_id', 'stage', 'entered_at'], 'E') }}
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
