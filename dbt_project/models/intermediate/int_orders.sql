-- One row per completed order (only completed orders count as sales), attributed to its rep:
-- the order's rep_id, or when empty the account's owner on the order date (marts.md "Attribution").
-- Stored: a view would re-aggregate every order line for each of the models and tests that read it
-- (measured by bench/, `make bench`). Month-partitioned by order_month (macros/rebuild_months.sql):
-- an order's row changes only with a new version of its header or lines (ingestion/changes.py
-- touches the months of both versions), a changed fx rate of its month, or a new accounts or reps
-- snapshot (every month from its effective date): a refresh rebuilds just those months.
{{ config(**month_partitioned('order_month')) }}

with account_owners as (
    select * from {{ ref('int_account_owners') }}
),

stg_orders as (
    select order_id, account_id, rep_id, opportunity_id, order_date, status, channel, _loaded_at
    from {{ ref('stg_orders') }}
),

stg_order_lines as (
    select order_id, quantity, unit_price, discount_amount from {{ ref('stg_order_lines') }}
),

stg_accounts as (
    select * from {{ ref('stg_accounts') }}
),

completed_orders as (
    select order_id, account_id, rep_id, opportunity_id, order_date, channel, _loaded_at
    from stg_orders
    where status = 'completed'
),

rebuilt_orders as (
    select * from completed_orders
    {{ where_rebuild_month("cast(date_trunc('month', order_date) as date)") }}
),

line_totals as (
    select
        order_id,
        sum({{ order_line_net_amount('quantity', 'unit_price', 'discount_amount') }}) as net_amount,
        sum(quantity) as units,
        count(*) as line_count
    from stg_order_lines
    {% if is_incremental() %}
    where order_id in (select order_id from rebuilt_orders)
    {% endif %}
    group by order_id
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
    from rebuilt_orders as orders
    left join account_owners as owners
        on
            orders.account_id = owners.account_id
            and {{ holds_on('owners', 'orders.order_date') }}
    left join line_totals
        on orders.order_id = line_totals.order_id
    cross join accounts_loaded
)

select * from final
