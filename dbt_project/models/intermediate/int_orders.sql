-- One row per completed order (only completed orders count as sales), attributed to its rep:
-- the order's rep_id, or when empty the account's owner on the order date (marts.md "Attribution").
-- A table, built once per run: a view would re-aggregate every order line for each of the models
-- and tests that read it (measured by bench/, `make bench`).
{{ config(materialized='table') }}

with account_owners as (
    select * from {{ ref('int_account_owners') }}
),

completed_orders as (
    select order_id, account_id, rep_id, opportunity_id, order_date, channel, _loaded_at
    from {{ ref('stg_orders') }}
    where status = 'completed'
),

line_totals as (
    select
        order_id,
        sum({{ order_line_net_amount('quantity', 'unit_price', 'discount_amount') }}) as net_amount,
        sum(quantity) as units,
        count(*) as line_count
    from {{ ref('stg_order_lines') }}
    group by order_id
),

stg_accounts as (
    select * from {{ ref('stg_accounts') }}
),

accounts_loaded as (
    select max(_loaded_at) as max_loaded_at from stg_accounts
),

final as (
    select
        orders.order_id,
        orders.account_id,
        coalesce(orders.rep_id, owners.owner_rep_id) as rep_id,
        orders.opportunity_id,
        orders.channel,
        orders.order_date,
        cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date) as order_month,
        cast(coalesce(line_totals.net_amount, 0) as decimal(18, 2)) as net_amount,
        cast(coalesce(line_totals.units, 0) as decimal(18, 4)) as units,
        coalesce(line_totals.line_count, 0) as line_count,
        -- when the order's header or attribution last changed (int_order_lines' incremental watermark):
        -- an order attributed through its account changes with every new accounts snapshot
        case
            when orders.rep_id is null
                then greatest(orders._loaded_at, coalesce(accounts_loaded.max_loaded_at, orders._loaded_at))
            else orders._loaded_at
        end as _loaded_at
    from completed_orders as orders
    left join account_owners as owners
        on
            orders.account_id = owners.account_id
            and {{ holds_on('owners', 'orders.order_date') }}
    left join line_totals
        on orders.order_id = line_totals.order_id
    cross join accounts_loaded
)

select * from final
