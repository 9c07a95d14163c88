-- Deals; a newer row for the same opportunity_id is a newer version.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'opportunities'), ['opportunity_id'], 'E') }}
),

fx_rates as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

rated as (
    select
        versions.*,
        {{ fx_rate('versions.currency') }} as fx_rate
    from versions
    {{ fx_join('versions.currency', 'coalesce(versions.close_date, cast(versions.created_at as date))') }}
),

final as (
    select
        opportunity_id,
        owner_rep_id,
        stage,
        account_id,
        lead_id,
        product_id,
        created_at,
        close_date,
        {{ to_reporting('amount', 'fx_rate') }} as amount,
        currency,
        lost_reason,
        updated_at,
        fx_rate,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
