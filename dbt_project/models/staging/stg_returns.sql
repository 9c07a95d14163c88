-- Returns and refunds (counted in the month of return_date).
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'returns'), ['return_id'], 'E') }}
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
        return_id,
        order_id,
        line_number,
        return_date,
        quantity,
        {{ to_reporting('refund_amount', 'fx_rate') }} as refund_amount,
        reason,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
