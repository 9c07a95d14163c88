-- Was each customer treated as its lifecycle stage calls for, and did it work (marts.md
-- mart_customer_treatment_monthly): one row per month x team x lifecycle stage, from the second
-- month of data. A customer's row is fixed by the month before: its stage at the end of m-1
-- (fct_customer_lifecycle_monthly), its owner on the last day of m-1 (int_account_owners) and
-- that owner's team in m-1 (int_rep_teams_monthly, which honours var team_attribution). Treated =
-- at least one activity on the account, in the month, of a type the lifecycle_actions seed
-- prescribes for the stage (`any`: every type). Zero-filled over every team x stage x month.
with calendar as (
    select * from {{ ref('int_calendar') }}
),

months as (
    select * from {{ ref('int_months') }}
),

stages as (
    select * from {{ ref('lifecycle_actions') }}
),

teams as (
    select * from {{ ref('int_teams') }}
),

lifecycle as (
    select * from {{ ref('fct_customer_lifecycle_monthly') }}
),

account_owners as (
    select * from {{ ref('int_account_owners') }}
),

rep_teams as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

activities as (
    select * from {{ ref('stg_activities') }}
),

orders as (
    select * from {{ ref('int_orders') }}
),

-- Each customer of month m as the end of m-1 left it. Every account of m-1 has a row in m too
-- (created by then), which gives the stage at the end of m for reactivation.
customer_months as (
    select
        this_month.month,
        this_month.account_id,
        last_month.month as previous_month,
        last_month.lifecycle_stage,
        this_month.lifecycle_stage as stage_at_month_end,
        cast({{ dbt.dateadd('day', -1, 'this_month.month') }} as date) as previous_month_end
    from lifecycle as last_month
    inner join lifecycle as this_month
        on
            last_month.account_id = this_month.account_id
            and this_month.month = cast({{ dbt.dateadd('month', 1, 'last_month.month') }} as date)
),

attributed as (
    select
        customer_months.*,
        rep_teams.team_id
    from customer_months
    left join account_owners
        on
            customer_months.account_id = account_owners.account_id
            and {{ holds_on('account_owners', 'customer_months.previous_month_end') }}
    left join rep_teams
        on
            account_owners.owner_rep_id = rep_teams.rep_id
            and customer_months.previous_month = rep_teams.month
),

-- An activity without an account treats nobody; one dated after as_of_date is not known yet.
account_activities as (
    select
        activities.account_id,
        activities.activity_type,
        cast({{ dbt.date_trunc('month', 'activities.occurred_at') }} as date) as month
    from activities
    cross join calendar
    where
        activities.account_id is not null
        and activities.occurred_at < calendar.now_ts
),

treated as (
    select distinct
        attributed.month,
        attributed.account_id
    from attributed
    inner join stages
        on attributed.lifecycle_stage = stages.lifecycle_stage
    inner join account_activities
        on
            attributed.account_id = account_activities.account_id
            and attributed.month = account_activities.month
    where
        stages.prescribed_activity_types = 'any'
        or {{ dbt.concat(["'|'", 'stages.prescribed_activity_types', "'|'"]) }}
        like {{ dbt.concat(["'%|'", 'account_activities.activity_type', "'|%'"]) }}
),

ordered as (
    select distinct
        orders.order_month as month,
        orders.account_id
    from orders
    cross join calendar
    where orders.order_date <= calendar.as_of_date
),

flagged as (
    select
        attributed.month,
        attributed.team_id,
        attributed.lifecycle_stage,
        case when treated.account_id is not null then 1 else 0 end as is_treated,
        case when ordered.account_id is not null then 1 else 0 end as has_ordered,
        case when attributed.stage_at_month_end not in ('inactive', 'prospect') then 1 else 0 end as is_reactivated
    from attributed
    left join treated
        on attributed.month = treated.month and attributed.account_id = treated.account_id
    left join ordered
        on attributed.month = ordered.month and attributed.account_id = ordered.account_id
),

counted as (
    select
        month,
        team_id,
        lifecycle_stage,
        count(*) as customers,
        sum(is_treated) as treated_customers,
        sum(is_treated * has_ordered) as ordered_treated,
        sum((1 - is_treated) * has_ordered) as ordered_untreated,
        sum(is_treated * is_reactivated) as reactivated_treated,
        sum((1 - is_treated) * is_reactivated) as reactivated_untreated
    from flagged
    group by month, team_id, lifecycle_stage
),

-- Every team x stage x month from the second month of data that no customer filled: zero rows.
-- (Customers whose owner has no team then keep their NULL-team rows in `counted`.)
empty_cells as (
    select
        months.month,
        teams.team_id,
        stages.lifecycle_stage
    from months
    cross join calendar
    cross join teams
    cross join stages
    where
        months.month > calendar.first_month
        and not exists (
            select 1 from counted
            where
                counted.month = months.month
                and counted.team_id = teams.team_id
                and counted.lifecycle_stage = stages.lifecycle_stage
        )
),

cells as (
    select * from counted
    union all
    select month, team_id, lifecycle_stage, 0, 0, 0, 0, 0, 0
    from empty_cells
),

final as (
    select
        month,
        cast(team_id as {{ dbt.type_string() }}) as team_id,
        cast(lifecycle_stage as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(customers as {{ dbt.type_bigint() }}) as customers,
        cast(treated_customers as {{ dbt.type_bigint() }}) as treated_customers,
        cast(customers - treated_customers as {{ dbt.type_bigint() }}) as untreated_customers,
        {{ safe_divide('treated_customers', 'customers') }} as treatment_rate,
        cast(ordered_treated as {{ dbt.type_bigint() }}) as ordered_treated,
        cast(ordered_untreated as {{ dbt.type_bigint() }}) as ordered_untreated,
        {{ safe_divide('ordered_treated', 'treated_customers') }} as order_rate_treated,
        {{ safe_divide('ordered_untreated', 'customers - treated_customers') }} as order_rate_untreated,
        {{ safe_divide('ordered_treated', 'treated_customers') }}
        - {{ safe_divide('ordered_untreated', 'customers - treated_customers') }} as order_rate_lift,
        -- only the inactive stage can be reactivated (marts.md): NULL, not 0, on every other stage
        cast(case when lifecycle_stage = 'inactive' then reactivated_treated end as {{ dbt.type_bigint() }})
            as reactivated_treated,
        cast(case when lifecycle_stage = 'inactive' then reactivated_untreated end as {{ dbt.type_bigint() }})
            as reactivated_untreated
    from cells
)

select * from final
