-- Service signals per account as of as_of_date: the latest NPS score and the cases still open.
-- A response belongs to its account_id, else to the account of its order, contact or case.
-- "As of": responses submitted and cases opened before now_ts (the end of the as_of day); a case
-- is open when it has no resolved_at or was resolved only after that.
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with calendar as (
    select now_ts from {{ ref('int_calendar') }}
),

stg_survey_responses as (
    select * from {{ ref('stg_survey_responses') }}
),

stg_orders as (
    select * from {{ ref('stg_orders') }}
),

stg_contacts as (
    select * from {{ ref('stg_contacts') }}
),

stg_cases as (
    select * from {{ ref('stg_cases') }}
),

nps_responses as (
    select
        coalesce(responses.account_id, orders.account_id, contacts.account_id, cases.account_id) as account_id,
        responses.response_id,
        responses.submitted_at,
        responses.score
    from stg_survey_responses as responses
    cross join calendar
    left join stg_orders as orders
        on responses.order_id = orders.order_id
    left join stg_contacts as contacts
        on responses.contact_id = contacts.contact_id
    left join stg_cases as cases
        on responses.case_id = cases.case_id
    where
        responses.survey_type = 'nps'
        and responses.submitted_at < calendar.now_ts
),

latest_nps as (
    select account_id, score
    from (
        select
            account_id,
            score,
            row_number() over (
                partition by account_id
                order by submitted_at desc, {{ string_sort_key('response_id') }} desc
            ) as recency_rank
        from nps_responses
        where account_id is not null
    ) as ranked
    where recency_rank = 1
),

open_cases as (
    select cases.account_id, count(*) as open_cases
    from stg_cases as cases
    cross join calendar
    where
        cases.opened_at < calendar.now_ts
        and (cases.resolved_at is null or cases.resolved_at >= calendar.now_ts)
    group by cases.account_id
),

accounts as (
    select account_id from latest_nps
    union
    select account_id from open_cases
),

final as (
    select
        accounts.account_id,
        cast(latest_nps.score as integer) as latest_nps_score,
        cast(coalesce(open_cases.open_cases, 0) as integer) as open_cases
    from accounts
    left join latest_nps
        on accounts.account_id = latest_nps.account_id
    left join open_cases
        on accounts.account_id = open_cases.account_id
)

select * from final
