-- One row per account x month of data: the account's completed orders as of that month's as_of
-- (the month's last day; the real as_of_date for the as_of month) and the lifecycle stage the
-- rules of marts.md give it then. The one home of the lifecycle rule: dim_customers reads the
-- as_of month's rows, fct_customer_lifecycle_monthly every month.
-- Set-based on purpose (no per-month loop): running totals over the months in which an account
-- has facts, spread over every account x every month (also the months before an account was
-- created, so no order is ever skipped), the 365-day window included (as the months in which each
-- order enters and leaves it).
{{ config(materialized='table') }}

with calendar as (
    select as_of_date, as_of_month from {{ ref('int_calendar') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

int_orders as (
    select * from {{ ref('int_orders') }}
),

int_refunds as (
    select * from {{ ref('int_refunds') }}
),

stg_accounts as (
    select * from {{ ref('stg_accounts') }}
),

evaluation_points as (
    select
        months.month,
        cast({{ dbt.last_day('months.month', 'month') }} as date) as month_end,
        case
            when months.month = calendar.as_of_month then calendar.as_of_date
            else cast({{ dbt.last_day('months.month', 'month') }} as date)
        end as as_of_date
    from int_months as months
    cross join calendar
),

spine_start as (
    select min(month) as first_month from evaluation_points
),

-- Nothing dated after the as_of date exists for any month of the spine.
completed_orders as (
    select
        orders.order_id,
        orders.account_id,
        orders.order_date,
        orders.order_month,
        orders.net_amount
    from int_orders as orders
    cross join calendar
    where orders.order_date <= calendar.as_of_date
),

-- Refunds count only on those same orders, once dated up to the as_of.
refunds as (
    select
        refunds.order_id,
        completed_orders.account_id,
        completed_orders.order_month,
        refunds.return_date,
        refunds.return_month,
        refunds.refund_amount
    from int_refunds as refunds
    inner join completed_orders
        on refunds.order_id = completed_orders.order_id
    cross join calendar
    where refunds.return_date <= calendar.as_of_date
),

-- The 365-day window without a row per order and month. An order dated d is in the window
-- (as_of - 365 days, as_of] of the months whose as_of lies in [d, d + 365 days); as_of grows with
-- the month, so those months are a range: it enters in its own month (the spine's first month for
-- older history) and leaves in the month of d + 365 days (whose as_of, the month's last day, is
-- past it), or never within the spine when that month is the as_of month and the as_of_date comes
-- first, or lies beyond it. Entries and exits summed up over the months give the window totals.
-- A refund of such an order counts from its own month (once dated up to the as_of) until the
-- order leaves. (This replaced a range join of orders onto the months: ~12 rows per order.)
order_windows as (
    select
        orders.order_id,
        orders.account_id,
        orders.net_amount,
        orders.order_date,
        orders.order_month,
        greatest(orders.order_month, spine_start.first_month) as entry_month,
        case
            when orders.leaving_month < calendar.as_of_month then orders.leaving_month
            when orders.leaving_month = calendar.as_of_month and calendar.as_of_date >= orders.leaves_on
                then orders.leaving_month
        end as exit_month
    from (
        select
            order_id,
            account_id,
            net_amount,
            order_date,
            order_month,
            cast({{ dbt.dateadd('day', 365, 'order_date') }} as date) as leaves_on,
            cast({{ dbt.date_trunc('month', dbt.dateadd('day', 365, 'order_date')) }} as date) as leaving_month
        from completed_orders
    ) as orders
    cross join calendar
    cross join spine_start
),

refund_windows as (
    select
        refunds.account_id,
        refunds.refund_amount,
        greatest(order_windows.entry_month, refunds.return_month) as entry_month,
        order_windows.exit_month
    from refunds
    inner join order_windows
        on refunds.order_id = order_windows.order_id
    where
        order_windows.exit_month is null
        or greatest(order_windows.entry_month, refunds.return_month) < order_windows.exit_month
),

-- Everything an account's months add up, one row per account and month with any: its orders (in
-- their month, the history before the spine's first month folded into it), its net revenue (the
-- month's orders minus the refunds dated in it; the months before the spine show nowhere), a
-- refund in the history from the first month in which both it and its order are dated up to the
-- as_of, and the 365-day window's entries and exits. An order is one row: its history month is its
-- window entry month.
month_facts as (
    select
        account_id,
        month,
        sum(orders_count) as orders_count,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        sum(history_amount) as history_amount,
        sum(net_revenue) as net_revenue,
        sum(orders_change) as orders_change,
        sum(amount_change) as amount_change
    from (
        select
            account_id,
            entry_month as month,
            1 as orders_count,
            order_date,
            net_amount as history_amount,
            case when order_month = entry_month then net_amount else 0 end as net_revenue,
            case when exit_month is null or exit_month > entry_month then 1 else 0 end as orders_change,
            case when exit_month is null or exit_month > entry_month then net_amount else 0 end as amount_change
        from order_windows
        union all
        select account_id, exit_month, 0, null, 0, 0, -1, 0 - net_amount
        from order_windows
        where exit_month > entry_month
        union all
        select
            refunds.account_id,
            greatest(refunds.order_month, refunds.return_month, spine_start.first_month),
            0,
            null,
            0 - refunds.refund_amount,
            0,
            0,
            0
        from refunds
        cross join spine_start
        union all
        select account_id, return_month, 0, null, 0, 0 - refund_amount, 0, 0
        from refunds
        union all
        select refund_windows.account_id, refund_windows.entry_month, 0, null, 0, 0, 0, 0 - refund_windows.refund_amount
        from refund_windows
        union all
        select refund_windows.account_id, refund_windows.exit_month, 0, null, 0, 0, 0, refund_windows.refund_amount
        from refund_windows
        where refund_windows.exit_month is not null
    ) as changes
    group by account_id, month
),

-- The running totals over an account's months with facts (a few per account), each standing
-- until its next one, then spread over the spine's months: cheaper than the same running window
-- over every account x month.
running_facts as (
    select
        account_id,
        month,
        lead(month) over (partition by account_id order by month) as next_month,
        net_revenue,
        min(first_order_date) over account_history as first_order_date,
        max(last_order_date) over account_history as last_order_date,
        sum(orders_count) over account_history as lifetime_orders,
        sum(history_amount) over account_history as lifetime_net_revenue,
        sum(orders_change) over account_history as orders_365d,
        sum(amount_change) over account_history as net_revenue_365d
    from month_facts
    window account_history as (
        partition by account_id
        order by month
        rows between unbounded preceding and current row
    )
),

running_months as (
    select
        running_facts.*,
        evaluation_points.month as spine_month
    from running_facts
    inner join evaluation_points
        on
            running_facts.month <= evaluation_points.month
            and (running_facts.next_month is null or running_facts.next_month > evaluation_points.month)
),

account_months as (
    select
        accounts.account_id,
        cast(accounts.created_at as date) as created_date,
        evaluation_points.month,
        evaluation_points.month_end,
        evaluation_points.as_of_date,
        running_months.first_order_date,
        running_months.last_order_date,
        coalesce(running_months.lifetime_orders, 0) as lifetime_orders,
        coalesce(running_months.lifetime_net_revenue, 0) as lifetime_net_revenue,
        coalesce(running_months.orders_365d, 0) as orders_365d,
        coalesce(running_months.net_revenue_365d, 0) as net_revenue_365d,
        case when running_months.month = evaluation_points.month then running_months.net_revenue else 0 end as net_revenue
    from stg_accounts as accounts
    cross join evaluation_points
    left join running_months
        on
            accounts.account_id = running_months.account_id
            and evaluation_points.month = running_months.spine_month
),

-- VIP ranking: every account with net_revenue_365d > 0 (inactive ones too), top ceil(share x count)
-- by net_revenue_365d, ties by account_id. The share is exact decimal arithmetic on purpose:
-- 0.07 x 100 accounts must give 7 VIPs, not ceil(7.000000000000001) = 8 as in floating point.
vip_ranking as (
    select
        account_id,
        month,
        row_number() over (
            partition by month
            order by net_revenue_365d desc, {{ string_sort_key('account_id') }} asc
        ) as vip_rank,
        count(*) over (partition by month) as vip_candidates
    from account_months
    where net_revenue_365d > 0
),

measured as (
    select
        account_months.*,
        {{ dbt.datediff('account_months.last_order_date', 'account_months.as_of_date', 'day') }} as recency_days,
        {{ dbt.datediff('account_months.first_order_date', 'account_months.as_of_date', 'day') }} as days_since_first_order,
        vip_ranking.vip_rank,
        vip_ranking.vip_candidates,
        ceiling(vip_ranking.vip_candidates * cast({{ var('lifecycle_vip_share') }} as decimal(9, 6))) as vip_slots
    from account_months
    left join vip_ranking
        on
            account_months.account_id = vip_ranking.account_id
            and account_months.month = vip_ranking.month
),

final as (
    select
        month,
        account_id,
        created_date,
        created_date <= month_end as is_created,
        as_of_date,
        first_order_date,
        last_order_date,
        cast(recency_days as integer) as recency_days,
        cast(lifetime_orders as integer) as lifetime_orders,
        cast(lifetime_net_revenue as decimal(18, 2)) as lifetime_net_revenue,
        cast(orders_365d as integer) as orders_365d,
        cast(net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
        cast(vip_rank as integer) as vip_rank,
        cast(vip_candidates as integer) as vip_candidates,
        cast(vip_slots as integer) as vip_slots,
        -- marts.md "Lifecycle stage": the first rule that matches wins.
        case
            when first_order_date is null then 'prospect'
            when recency_days > {{ var('lifecycle_inactive_days') }} then 'inactive'
            when vip_rank <= vip_slots then 'vip'
            when days_since_first_order < {{ var('lifecycle_new_days') }} then 'new'
            when orders_365d >= {{ var('lifecycle_loyal_orders_365d') }} then 'loyal'
            else 'active'
        end as lifecycle_stage,
        cast(net_revenue as decimal(18, 2)) as net_revenue
    from measured
)

select * from final
