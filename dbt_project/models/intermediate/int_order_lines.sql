-- One row per order line of a completed order, carrying the order's attribution (int_orders).
--
-- Incremental: a run rebuilds only the orders touched since the last one (delete+insert of all
-- lines of each such order): orders with a line loaded since, and orders whose header or
-- attribution changed since (int_orders._loaded_at), and the orders of the months in
-- control.rebuild_months (macros/rebuild_months.sql). Orders that stopped being completed (a newer
-- version cancelled them) are deleted by the post-hook. `dbt build --full-refresh` rebuilds all.
-- Spark: a table rebuilt every run (its Parquet tables support neither delete+insert nor DELETE).
{%- set rebuild_whole = target.type == 'spark' %}
{{ config(
    materialized='table' if rebuild_whole else 'incremental',
    unique_key='order_id',
    incremental_strategy=none if rebuild_whole else 'delete+insert',
    on_schema_change='fail',
    post_hook=[] if rebuild_whole else
        ["delete from {{ this }} where order_id not in (select order_id from {{ ref('int_orders') }})",
         "{{ log_row_count() }}"]
) }}

with stg_order_lines as (
    select * from {{ ref('stg_order_lines') }}
),

int_orders as (
    select * from {{ ref('int_orders') }}
),

{% if is_incremental() %}
watermark as (
    select coalesce(max(_loaded_at), cast('1900-01-01' as timestamp)) as loaded_at from {{ this }}
),

touched_orders as (
    select lines.order_id
    from stg_order_lines as lines
    cross join watermark
    where lines._loaded_at > watermark.loaded_at
    union
    select orders.order_id
    from int_orders as orders
    cross join watermark
    where orders._loaded_at > watermark.loaded_at
    union
    -- the months a refresh rebuilds (a changed fx rate converts their lines anew)
    select orders.order_id
    from int_orders as orders
    {{ where_rebuild_month('orders.order_month') }}
),

{% endif %}
final as (
    select
        orders.order_id,
        lines.line_number,
        orders.account_id,
        orders.rep_id,
        orders.opportunity_id,
        orders.order_date,
        orders.order_month,
        lines.product_id,
        lines.quantity,
        lines.unit_price,
        lines.discount_amount,
        {{ order_line_net_amount('lines.quantity', 'lines.unit_price', 'lines.discount_amount') }} as net_amount,
        greatest(lines._loaded_at, orders._loaded_at) as _loaded_at
    from stg_order_lines as lines
    inner join int_orders as orders
        on lines.order_id = orders.order_id
    {% if is_incremental() %}
    where orders.order_id in (select order_id from touched_orders)
    {% endif %}
)

select * from final
