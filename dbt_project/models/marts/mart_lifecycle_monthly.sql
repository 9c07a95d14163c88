-- One row per month x lifecycle stage (all six stages every month, zero-filled): how many
-- customers are in the stage, how many moved in or out since last month, how many came back from
-- inactive, and the net revenue they booked in the month.
with stages as (
    select lifecycle_stage from {{ ref('lifecycle_actions') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

fct_customer_lifecycle_monthly as (
    select * from {{ ref('fct_customer_lifecycle_monthly') }}
),

spine as (
    select months.month, stages.lifecycle_stage
    from int_months as months
    cross join stages
),

customers as (
    select
        month,
        lifecycle_stage,
        count(*) as customers,
        sum(case when previous_stage is null or previous_stage <> lifecycle_stage then 1 else 0 end) as entered,
        sum(case when previous_stage = 'inactive' then 1 else 0 end) as came_from_inactive,
        sum(net_revenue) as net_revenue
    from fct_customer_lifecycle_monthly
    group by month, lifecycle_stage
),

exits as (
    select month, previous_stage as lifecycle_stage, count(*) as exited
    from fct_customer_lifecycle_monthly
    where previous_stage <> lifecycle_stage
    group by month, previous_stage
),

month_totals as (
    select month, count(*) as total_customers
    from fct_customer_lifecycle_monthly
    group by month
),

counted as (
    select
        spine.month,
        spine.lifecycle_stage,
        coalesce(customers.customers, 0) as customers,
        coalesce(month_totals.total_customers, 0) as total_customers,
        coalesce(customers.entered, 0) as entered,
        coalesce(exits.exited, 0) as exited,
        -- coming back from inactive only means something for the stages a customer can return to
        case
            when spine.lifecycle_stage in ('inactive', 'prospect') then null
            else coalesce(customers.came_from_inactive, 0)
        end as reactivated,
        coalesce(customers.net_revenue, 0) as net_revenue
    from spine
    left join customers
        on
            spine.month = customers.month
            and spine.lifecycle_stage = customers.lifecycle_stage
    left join exits
        on
            spine.month = exits.month
            and spine.lifecycle_stage = exits.lifecycle_stage
    left join month_totals
        on spine.month = month_totals.month
),

final as (
    select
        month,
        lifecycle_stage,
        cast(customers as bigint) as customers,
        cast(total_customers as bigint) as total_customers,
        {{ safe_divide('customers', 'total_customers') }} as share_of_customers,
        cast(entered as bigint) as entered,
        cast(exited as bigint) as exited,
        cast(reactivated as bigint) as reactivated,
        cast(net_revenue as decimal(18, 2)) as net_revenue
    from counted
)

select * from final
