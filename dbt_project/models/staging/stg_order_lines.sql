-- Order lines; net amount = quantity * unit_price - coalesce(discount_amount, 0).
-- Event entity: latest file, then latest row, wins per key.
-- Incremental by order (macros/incremental_staging.sql): a run recomputes every line of the orders
-- with a line newer than the table, of the orders whose header is newer than the table (a new
-- currency or date re-rates them) and, when a new fx rates file arrived, of the orders of the
-- months in control.rebuild_months. A table, read by many models, tests and checks (macros/stored_staging.sql).
{{ config(**incremental_staging('order_id')) }}
with raw_order_lines as (
    select * from {{ source('raw', 'order_lines') }}
),

-- read by an incremental run only (did a new rates file arrive?)
raw_fx_rates as (  -- noqa: ST03
    select * from {{ source('raw', 'fx_rates') }}
),

orders as (
    select order_id, order_date, fx_rate, _loaded_at from {{ ref('stg_orders') }}
),

{% if is_incremental() %}
watermark as (
    {{ staging_watermark() }}
),

new_rates as (
    {{ arrived_since_watermark('raw_fx_rates') }}
),

changed_orders as (
    select raw_order_lines.order_id
    from raw_order_lines
    cross join watermark
    where raw_order_lines._loaded_at > watermark.loaded_at
    union
    select orders.order_id
    from orders
    cross join watermark
    where orders._loaded_at > watermark.loaded_at
    union
    select orders.order_id
    from orders
    cross join new_rates
    where new_rates.arrived {{ where_rebuild_month("cast(date_trunc('month', orders.order_date) as date)", keyword='and') }}
),

{% endif %}
keyed_rows as (
    select * from raw_order_lines
    {% if is_incremental() %}
    where order_id in (select order_id from changed_orders)
    {% endif %}
),

versions as (
    {{ latest_version('keyed_rows', ['order_id', 'line_number'], 'E') }}
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
