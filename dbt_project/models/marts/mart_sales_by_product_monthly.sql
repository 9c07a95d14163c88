-- What sold, through which channel, at what margin (marts.md mart_sales_by_product_monthly): one
-- row per month x product x channel x region over completed orders dated in the month, plus the
-- refunds dated in the month on those products. Region is the account's; an empty channel is a
-- row of its own (NULL). A refund whose order line is unknown (no line_number, or a line the
-- order lacks) counts under a NULL product, so the sums over every product still equal the
-- revenue of the KPI marts. cost_amount is NULL for a product without unit_cost.
-- Month-partitioned: a refresh rebuilds the months the new data touched (macros/rebuild_months.sql).
{{ config(**month_partitioned()) }}

with order_lines as (
    select * from {{ ref('int_order_lines') }}
),

-- the product of a refunded line: its own import, so that DuckDB reads the lines twice rather
-- than materializing (and spilling) a CTE of every order line read by two branches
refunded_lines as (
    select order_id, line_number, product_id from {{ ref('int_order_lines') }}
),

-- the keys that count a cell's orders and customers: a third narrow read of the lines (as above)
line_keys as (
    select order_id, product_id, account_id, order_month from {{ ref('int_order_lines') }}
),

orders as (
    select * from {{ ref('int_orders') }}
),

refunds as (
    select * from {{ ref('int_refunds') }}
),

products as (
    select * from {{ ref('stg_products') }}
),

accounts as (
    select * from {{ ref('stg_accounts') }}
),

line_facts as (
    select
        order_lines.order_month as month,
        order_lines.product_id,
        orders.channel,
        accounts.region,
        order_lines.order_id,
        order_lines.account_id,
        order_lines.quantity as units_sold,
        order_lines.quantity * order_lines.unit_price as gross_amount,
        coalesce(order_lines.discount_amount, 0) as discount_amount,
        order_lines.net_amount,
        cast(0 as decimal(18, 2)) as refunds_amount
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join accounts
        on order_lines.account_id = accounts.account_id
),

refund_facts as (
    select
        refunds.return_month as month,
        refunded_lines.product_id,
        orders.channel,
        accounts.region,
        cast(null as {{ dbt.type_string() }}) as order_id,
        cast(null as {{ dbt.type_string() }}) as account_id,
        0 as units_sold,
        0 as gross_amount,
        0 as discount_amount,
        0 as net_amount,
        refunds.refund_amount as refunds_amount
    from refunds
    inner join orders
        on refunds.order_id = orders.order_id
    left join refunded_lines
        on refunds.order_id = refunded_lines.order_id and refunds.line_number = refunded_lines.line_number
    left join accounts
        on refunds.account_id = accounts.account_id
),

facts as (
    select * from line_facts
    union all
    select * from refund_facts
),

-- The money of a cell: one aggregation of the facts.
cell_totals as (
    select
        month,
        product_id,
        channel,
        region,
        sum(units_sold) as units_sold,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(net_amount) as net_amount,
        sum(refunds_amount) as refunds_amount
    from facts
    {{ where_rebuild_month('month') }}
    group by month, product_id, channel, region
),

-- The distinct orders and customers of a cell, counted apart from the money, over the keys of
-- the lines only, in three steps (order x product, cell x customer, cell) rather than two
-- count(distinct): a plain aggregation spills to disk, while DuckDB's distinct aggregates ran out
-- of the 1 GB limit at scale 500 beside another model. An order has one account, month and channel
-- and an account one region, so an order's lines of a product fall in one cell, and a cell's
-- orders are the sum of its customers' orders. Refunds carry no order or customer: a cell with
-- refunds only counts none. The money stays out of these steps: its five sums would ride through
-- two aggregations of about a row per order line (1.3x the CPU at scale 50).
order_products as (
    select distinct
        order_id,
        product_id,
        account_id,
        order_month
    from line_keys
    {{ where_rebuild_month('order_month') }}
),

cell_customers as (
    select
        order_products.order_month as month,
        order_products.product_id,
        orders.channel,
        accounts.region,
        order_products.account_id,
        count(*) as orders_count
    from order_products
    inner join orders
        on order_products.order_id = orders.order_id
    left join accounts
        on order_products.account_id = accounts.account_id
    group by order_products.order_month, order_products.product_id, orders.channel, accounts.region, order_products.account_id
),

cell_counts as (
    select
        month,
        product_id,
        channel,
        region,
        sum(orders_count) as orders_count,
        count(account_id) as customers
    from cell_customers
    group by month, product_id, channel, region
),

-- a cell's key columns may be NULL (no product, channel or region): null-safe equality
grouped as (
    select
        cell_totals.month,
        cell_totals.product_id,
        cell_totals.channel,
        cell_totals.region,
        coalesce(cell_counts.orders_count, 0) as orders_count,
        coalesce(cell_counts.customers, 0) as customers,
        cell_totals.units_sold,
        cell_totals.gross_amount,
        cell_totals.discount_amount,
        cell_totals.net_amount,
        cell_totals.refunds_amount
    from cell_totals
    left join cell_counts
        on
            cell_totals.month = cell_counts.month
            and cell_totals.product_id is not distinct from cell_counts.product_id
            and cell_totals.channel is not distinct from cell_counts.channel
            and cell_totals.region is not distinct from cell_counts.region
),

priced as (
    select
        grouped.*,
        grouped.net_amount - grouped.refunds_amount as net_revenue,
        grouped.units_sold * products.unit_cost as cost_amount,
        products.product_name,
        products.category
    from grouped
    left join products
        on grouped.product_id = products.product_id
),

final as (
    select
        month,
        cast(product_id as {{ dbt.type_string() }}) as product_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(orders_count as {{ dbt.type_bigint() }}) as orders_count,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(units_sold as decimal(18, 4)) as units_sold,
        {{ to_money('gross_amount') }} as gross_amount,
        cast(discount_amount as decimal(18, 2)) as discount_amount,
        cast(net_amount as decimal(18, 2)) as net_amount,
        cast(refunds_amount as decimal(18, 2)) as refunds_amount,
        cast(net_revenue as decimal(18, 2)) as net_revenue,
        {{ to_money('cost_amount') }} as cost_amount,
        {{ to_money('net_revenue - cost_amount') }} as gross_margin,
        {{ safe_divide('net_revenue - cost_amount', 'net_revenue') }} as gross_margin_rate
    from priced
)

select * from final
