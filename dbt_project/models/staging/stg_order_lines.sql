-- Order lines; net amount = quantity * unit_price - coalesce(discount_amount, 0).
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'order_lines'), ['order_id', 'line_number'], 'E') }}
),

orders as (
    select order_id, fx_rate from {{ ref('stg_orders') }}
),

rated as (
    -- the order's rate (currency and month of its order_date), taken from stg_orders: see to_reporting
    select
        versions.*,
        orders.fx_rate
    from versions
    left join orders on versions.order_id = orders.order_id
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
