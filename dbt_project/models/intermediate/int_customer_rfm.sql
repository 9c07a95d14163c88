-- RFM scores as of as_of_date (marts.md "RFM"), over the accounts with at least one completed
-- order: quintiles by recency (most recent gets 5), lifetime order count and lifetime net revenue
-- (highest gets 5); ties broken by account_id ascending as strings so the scores never depend on
-- the engine's row order.
with int_customer_state_monthly as (
    select * from {{ ref('int_customer_state_monthly') }}
),

int_calendar as (
    select * from {{ ref('int_calendar') }}
),

as_of_state as (
    select
        state.account_id,
        state.recency_days,
        state.lifetime_orders,
        state.lifetime_net_revenue
    from int_customer_state_monthly as state
    inner join int_calendar as calendar
        on state.month = calendar.as_of_month
    where state.first_order_date is not null
),

scored as (
    select
        account_id,
        ntile(5) over (order by recency_days desc, {{ string_sort_key('account_id') }} asc) as r_score,
        ntile(5) over (order by lifetime_orders, {{ string_sort_key('account_id') }}) as f_score,
        ntile(5) over (order by lifetime_net_revenue, {{ string_sort_key('account_id') }}) as m_score
    from as_of_state
),

final as (
    select
        account_id,
        cast(r_score as integer) as r_score,
        cast(f_score as integer) as f_score,
        cast(m_score as integer) as m_score,
        {{ dbt.concat([
            'cast(r_score as ' ~ dbt.type_string() ~ ')',
            'cast(f_score as ' ~ dbt.type_string() ~ ')',
            'cast(m_score as ' ~ dbt.type_string() ~ ')',
        ]) }} as rfm_code
    from scored
)

select * from final
