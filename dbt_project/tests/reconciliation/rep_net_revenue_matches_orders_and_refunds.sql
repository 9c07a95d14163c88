-- Net revenue summed over mart_rep_kpi_monthly equals the net amount of completed order lines
-- minus the refunds on completed orders, computed straight from staging (not from the int_
-- models the mart is built on). Only sales that can be credited to a rep (the order's rep_id or
-- the account's owner) can appear in a rep mart. Amounts are rounded to cents once per order in
-- the mart, hence a tolerance of half a cent per order. Returns a row when the totals differ.
{{ config(meta={'dagster': {'ref': {'name': 'mart_rep_kpi_monthly'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_rep_kpi_monthly'), ref('stg_orders'), ref('stg_accounts'),
                  ref('stg_order_lines'), ref('stg_returns')] %}
{% if reconciliation_inputs_exist(inputs) %}
with creditable_completed_orders as (
    select orders.order_id
    from {{ ref('stg_orders') }} as orders
    left join {{ ref('stg_accounts') }} as accounts
        on orders.account_id = accounts.account_id
    where orders.status = 'completed'
      and coalesce(orders.rep_id, accounts.owner_rep_id) is not null
),

expected as (
    select
        (select coalesce(sum(lines.quantity * lines.unit_price - coalesce(lines.discount_amount, 0)), 0)
         from {{ ref('stg_order_lines') }} as lines
         inner join creditable_completed_orders as completed on lines.order_id = completed.order_id)
        as gross_revenue,
        (select coalesce(sum(returns.refund_amount), 0)
         from {{ ref('stg_returns') }} as returns
         inner join creditable_completed_orders as completed on returns.order_id = completed.order_id)
        as refunds_amount,
        (select count(*) from creditable_completed_orders) as orders_count
),

mart as (
    select
        coalesce(sum(gross_revenue), 0) as gross_revenue,
        coalesce(sum(refunds_amount), 0) as refunds_amount,
        coalesce(sum(net_revenue), 0) as net_revenue
    from {{ ref('mart_rep_kpi_monthly') }}
)

select
    mart.gross_revenue as mart_gross_revenue,
    expected.gross_revenue as expected_gross_revenue,
    mart.refunds_amount as mart_refunds_amount,
    expected.refunds_amount as expected_refunds_amount,
    mart.net_revenue as mart_net_revenue,
    expected.gross_revenue - expected.refunds_amount as expected_net_revenue
from mart
cross join expected
where abs(mart.gross_revenue - expected.gross_revenue) > 0.005 * expected.orders_count
   or mart.refunds_amount <> expected.refunds_amount
   or abs(mart.net_revenue - (expected.gross_revenue - expected.refunds_amount)) > 0.005 * expected.orders_count
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
