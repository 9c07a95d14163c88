-- Order lines; net amount = quantity * unit_price - coalesce(discount_amount, 0).
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'order_lines'), ['order_id', 'line_number'], 'E') }}
),

orders as (
    {{ latest_version(source('raw', 'orders'), ['order_id'], 'E') }}
),

fx_rates as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

rated as (
    -- the order's currency and the month of its order_date, as stg_orders rates it
    select
        versions.*,
        {{ fx_rate('orders.currency') }} as fx_rate
    from versions
    left join orders on versions.order_id = orders.order_id
    {{ fx_join('orders.currency', 'orders.order_date') }}
),

final as (
    select
        order_id,
        line_number,
        product_id,
        quantity,
        {{ to_reporting('unit_price', 'fx_rate', 'decimal(18,4)') }} as unit_price,
        {{ to_reporting('discount_amount', 'fx_rate') }} as discount_amount,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
