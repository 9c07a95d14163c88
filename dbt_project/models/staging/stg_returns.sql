-- Returns and refunds (counted in the month of return_date).
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'returns'), ['return_id'], 'E') }}
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
