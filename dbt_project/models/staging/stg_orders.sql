-- Order headers.
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'orders'), ['order_id'], 'E') }}
),

fx_rates as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

rated as (
    select
        versions.*,
        {{ fx_rate('versions.currency') }} as fx_rate
    from versions
    {{ fx_join('versions.currency', 'versions.order_date') }}
),

final as (
    select
        order_id,
        account_id,
        rep_id,
        opportunity_id,
        order_date,
        status,
        channel,
        currency,
        fx_rate,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
