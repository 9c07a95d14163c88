-- Monthly exchange rates to the reporting currency (one row per month and currency).
-- Snapshot entity: the newest file per source profile is the current state.
with versions as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

final as (
    select
        month,
        currency,
        rate_to_reporting,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
