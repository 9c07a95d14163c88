-- One row per account as of as_of_date: who the customer is, what it bought, its RFM scores,
-- lifecycle stage and the treatment that stage calls for, its service signals and its sales touches.
-- The order measures and the stage come from int_customer_state_monthly (the as_of month's rows),
-- the one place the lifecycle rule lives. The owner and team are those on as_of_date (marts.md
-- "Point in time"). No e-mail address or phone number is published here.
with calendar as (
    select as_of_date, as_of_month from {{ ref('int_calendar') }}
),

account_owners as (
    select * from {{ ref('int_account_owners') }}
),

assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

engagement as (
    select * from {{ ref('int_customer_engagement') }}
),

int_customer_state_monthly as (
    select * from {{ ref('int_customer_state_monthly') }}
),

stg_accounts as (
    select * from {{ ref('stg_accounts') }}
),

int_customer_rfm as (
    select * from {{ ref('int_customer_rfm') }}
),

lifecycle_actions as (
    select * from {{ ref('lifecycle_actions') }}
),

int_customer_service as (
    select * from {{ ref('int_customer_service') }}
),

as_of_state as (
    select state.*
    from int_customer_state_monthly as state
    inner join calendar
        on state.month = calendar.as_of_month
),

final as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.industry,
        accounts.region,
        accounts.city,
        owners.owner_rep_id,
        reps.team_id,
        cast(accounts.created_at as date) as created_date,
        as_of_state.first_order_date,
        as_of_state.last_order_date,
        as_of_state.lifetime_orders,
        as_of_state.lifetime_net_revenue,
        as_of_state.orders_365d,
        as_of_state.net_revenue_365d,
        as_of_state.recency_days,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_code,
        as_of_state.lifecycle_stage,
        actions.recommended_action,
        service.latest_nps_score,
        coalesce(service.open_cases, 0) as open_cases,
        engagement.last_activity_date,
        engagement.last_visit_date,
        coalesce(engagement.activities_90d, 0) as activities_90d,
        coalesce(engagement.visits_90d, 0) as visits_90d,
        engagement.days_since_last_touch
    from stg_accounts as accounts
    inner join as_of_state
        on accounts.account_id = as_of_state.account_id
    cross join calendar
    left join account_owners as owners
        on
            accounts.account_id = owners.account_id
            and {{ holds_on('owners', 'calendar.as_of_date') }}
    left join assignments as reps
        on
            owners.owner_rep_id = reps.rep_id
            and {{ holds_on('reps', 'calendar.as_of_date') }}
    left join int_customer_rfm as rfm
        on accounts.account_id = rfm.account_id
    left join lifecycle_actions as actions
        on as_of_state.lifecycle_stage = actions.lifecycle_stage
    left join int_customer_service as service
        on accounts.account_id = service.account_id
    left join engagement
        on accounts.account_id = engagement.account_id
)

select * from final
