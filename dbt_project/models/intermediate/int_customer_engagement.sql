-- Per account, its sales touches up to as_of_date (marts.md "The customer-treatment loop"): the
-- last activity and the last visit, the activities and visits of the last 90 days ((as_of - 90
-- days, as_of]) and the days since the last touch. An activity without an account touches no
-- customer; one after the as_of day is not known yet.
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with calendar as (
    select * from {{ ref('int_calendar') }}
),

activities as (
    select * from {{ ref('stg_activities') }}
),

touches as (
    select
        activities.account_id,
        activities.activity_type,
        cast(activities.occurred_at as date) as activity_date,
        case
            when cast(activities.occurred_at as date) > {{ dbt.dateadd('day', -90, 'calendar.as_of_date') }}
                then 1
            else 0
        end as is_within_90d
    from activities
    cross join calendar
    where
        activities.account_id is not null
        and activities.occurred_at < calendar.now_ts
),

per_account as (
    select
        account_id,
        max(activity_date) as last_activity_date,
        max(case when activity_type = 'visit' then activity_date end) as last_visit_date,
        sum(is_within_90d) as activities_90d,
        sum(case when activity_type = 'visit' then is_within_90d else 0 end) as visits_90d
    from touches
    group by account_id
),

final as (
    select
        per_account.account_id,
        per_account.last_activity_date,
        per_account.last_visit_date,
        cast(per_account.activities_90d as integer) as activities_90d,
        cast(per_account.visits_90d as integer) as visits_90d,
        cast({{ dbt.datediff('per_account.last_activity_date', 'calendar.as_of_date', 'day') }} as integer)
            as days_since_last_touch
    from per_account
    cross join calendar
)

select * from final
