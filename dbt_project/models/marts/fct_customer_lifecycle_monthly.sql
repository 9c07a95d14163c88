-- One row per month x account created by the month's end, from the first month of data to the
-- as_of month: the lifecycle stage as of the month's last day (as_of_date for the as_of month),
-- the stage the month before, and the net revenue booked in the month.
with int_customer_state_monthly as (
    select * from {{ ref('int_customer_state_monthly') }}
),

final as (
    select
        state.month,
        state.account_id,
        state.lifecycle_stage,
        lag(state.lifecycle_stage) over (partition by state.account_id order by state.month) as previous_stage,
        state.net_revenue
    from int_customer_state_monthly as state
    where state.is_created
)

select * from final
