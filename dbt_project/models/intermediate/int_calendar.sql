-- The reference dates of every mart (marts.md "as_of_date"): one row.
-- as_of_date: var('as_of_date') when set, else the latest business event in the data, so a given
-- data set always gives the same answer. Nothing in the marts reads the wall clock.
with stg_orders as (
    select * from {{ ref('stg_orders') }}
),

stg_opportunities as (
    select * from {{ ref('stg_opportunities') }}
),

stg_opportunity_stage_history as (
    select * from {{ ref('stg_opportunity_stage_history') }}
),

stg_activities as (
    select * from {{ ref('stg_activities') }}
),

stg_survey_responses as (
    select * from {{ ref('stg_survey_responses') }}
),

event_dates as (
    select cast(order_date as date) as d from stg_orders
    union all
    select cast(created_at as date) from stg_opportunities
    union all
    select cast(updated_at as date) from stg_opportunities
    union all
    select close_date from stg_opportunities
    where stage in ('closed_won', 'closed_lost')
    union all
    select cast(entered_at as date) from stg_opportunity_stage_history
    union all
    select cast(occurred_at as date) from stg_activities
    union all
    select cast(submitted_at as date) from stg_survey_responses
),

bounds as (
    select
        {% if var('as_of_date') %}cast('{{ var("as_of_date") }}' as date){% else %}max(d){% endif %} as as_of_date,
        min(d) as first_date
    from event_dates
),

final as (
    select
        as_of_date,
        cast({{ dbt.date_trunc('month', 'as_of_date') }} as date) as as_of_month,
        cast({{ dbt.date_trunc('month', 'first_date') }} as date) as first_month,
        -- "now" for durations: the end of the as_of day
        cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as timestamp) as now_ts
    from bounds
)

select * from final
