-- Sales facts per rep and month (marts.md "Attribution"): completed orders in the month of
-- order_date, refunds in the month of return_date (the order's rep), and new customers credited to
-- the rep of the account's first completed order (earliest order_date, then order_id).
-- A table (a few rows per rep and month), built once per run: int_rep_monthly reads it twice and
-- its tests once each, and as a view each read would redo the work from the staging rows up.
{{ config(materialized='table') }}

with orders as (
    select order_id, account_id, rep_id, order_date, order_month, net_amount, units
    from {{ ref('int_orders') }}
),

-- the same orders for the first orders: an import of their own, so that DuckDB reads int_orders
-- twice rather than materializing it as a CTE that two branches read
first_order_source as (
    select order_id, account_id, rep_id, order_date, order_month
    from {{ ref('int_orders') }}
),

int_refunds as (
    select * from {{ ref('int_refunds') }}
),

-- Each account's first completed order (macros/first_order_ids.sql).
first_order_ids as (
    {{ first_order_ids('first_order_source') }}
),

first_orders as (
    select first_order_source.rep_id, first_order_source.order_month
    from first_order_source
    inner join first_order_ids
        on first_order_source.order_id = first_order_ids.first_order_id
),

order_facts as (
    select
        rep_id,
        order_month as month,
        sum(net_amount) as gross_revenue,
        count(*) as orders_count,
        sum(units) as units_sold,
        count(distinct account_id) as active_customers
    from orders
    where rep_id is not null
    group by rep_id, order_month
),

new_customer_facts as (
    select
        rep_id,
        order_month as month,
        count(*) as new_customers
    from first_orders
    where rep_id is not null
    group by rep_id, order_month
),

refund_facts as (
    select
        rep_id,
        return_month as month,
        sum(refund_amount) as refunds_amount
    from int_refunds
    where rep_id is not null
    group by rep_id, return_month
),

rep_months as (
    select rep_id, month from order_facts
    union
    select rep_id, month from new_customer_facts
    union
    select rep_id, month from refund_facts
),

final as (
    select
        rep_months.rep_id,
        rep_months.month,
        cast(coalesce(order_facts.gross_revenue, 0) as decimal(18, 2)) as gross_revenue,
        cast(coalesce(refund_facts.refunds_amount, 0) as decimal(18, 2)) as refunds_amount,
        cast(coalesce(order_facts.orders_count, 0) as {{ dbt.type_bigint() }}) as orders_count,
        cast(coalesce(order_facts.units_sold, 0) as decimal(18, 4)) as units_sold,
        cast(coalesce(order_facts.active_customers, 0) as {{ dbt.type_bigint() }}) as active_customers,
        cast(coalesce(new_customer_facts.new_customers, 0) as {{ dbt.type_bigint() }}) as new_customers
    from rep_months
    left join order_facts
        on rep_months.rep_id = order_facts.rep_id and rep_months.month = order_facts.month
    left join new_customer_facts
        on rep_months.rep_id = new_customer_facts.rep_id and rep_months.month = new_customer_facts.month
    left join refund_facts
        on rep_months.rep_id = refund_facts.rep_id and rep_months.month = refund_facts.month
)

select * from final
