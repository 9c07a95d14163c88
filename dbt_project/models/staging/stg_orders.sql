-- Order headers.
-- Event entity: latest file, then latest row, wins per key.
-- Incremental by key (macros/incremental_staging.sql): a run recomputes the orders with a raw row
-- newer than the table and, when a new fx rates file arrived, the orders of the months in
-- control.rebuild_months (the months whose rate changed are among them: ingestion/changes.py).
-- A table, read by many models, tests and checks (macros/stored_staging.sql).
{{ config(**incremental_staging('order_id')) }}
with raw_orders as (
    select * from {{ source('raw', 'orders') }}
),

raw_fx_rates as (
    select * from {{ source('raw', 'fx_rates') }}
),

{% if is_incremental() %}
watermark as (
    {{ staging_watermark() }}
),

new_rates as (
    {{ arrived_since_watermark('raw_fx_rates') }}
),

changed_keys as (
    select raw_orders.order_id
    from raw_orders
    cross join watermark
    where raw_orders._loaded_at > watermark.loaded_at
    union
    select stored.order_id
    from {{ this }} as stored
    cross join new_rates
    where new_rates.arrived {{ where_rebuild_month("cast(date_trunc('month', stored.order_date) as date)", keyword='and') }}
),

{% endif %}
keyed_rows as (
    select * from raw_orders
    {% if is_incremental() %}
    where order_id in (select order_id from changed_keys)
    {% endif %}
),

versions as (
    {{ latest_version('keyed_rows', ['order_id'], 'E') }}
),

fx_rates as (
    {{ latest_version('raw_fx_rates', ['month', 'currency'], 'S') }}
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
