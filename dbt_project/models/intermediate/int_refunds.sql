-- One row per return of a completed order; the refund belongs to the order's rep and counts in
-- the month of return_date (marts.md "Attribution").
with stg_returns as (
    select * from {{ ref('stg_returns') }}
),

int_orders as (
    select * from {{ ref('int_orders') }}
),

final as (
    select
        returns.return_id,
        returns.order_id,
        returns.line_number,
        orders.account_id,
        orders.rep_id,
        orders.order_date,
        returns.return_date,
        cast({{ dbt.date_trunc('month', 'returns.return_date') }} as date) as return_month,
        returns.quantity,
        returns.refund_amount
    from stg_returns as returns
    inner join int_orders as orders
        on returns.order_id = orders.order_id
)

select * from final
