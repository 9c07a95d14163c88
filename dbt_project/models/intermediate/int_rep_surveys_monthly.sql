-- Survey facts per rep and month of submitted_at (marts.md "Attribution"): a response belongs to
-- the rep of its order when order_id is given (the order's rep_id, else that account's owner on the
-- order date), else to its account's owner on the submission date. An order_id that matches no known order falls back to the account owner.
-- A table (a few rows per rep and month), built once per run: int_rep_monthly reads it twice and
-- its tests once each, and as a view each read would redo the work from the staging rows up.
{{ config(materialized='table') }}

with account_owners as (
    select * from {{ ref('int_account_owners') }}
),

stg_orders as (
    select * from {{ ref('stg_orders') }}
),

stg_survey_responses as (
    select * from {{ ref('stg_survey_responses') }}
),

-- the rep of each order a response names: only those orders (a small share of all) are attributed
orders as (
    select
        orders.order_id,
        coalesce(orders.rep_id, owners.owner_rep_id) as rep_id
    from stg_orders as orders
    left join account_owners as owners
        on
            orders.account_id = owners.account_id
            and {{ holds_on('owners', 'orders.order_date') }}
    where orders.order_id in (select stg_survey_responses.order_id from stg_survey_responses)
),

responses as (
    select
        case when orders.order_id is not null then orders.rep_id else accounts.owner_rep_id end as rep_id,
        cast({{ dbt.date_trunc('month', 'responses.submitted_at') }} as date) as month,
        responses.survey_type,
        responses.score
    from stg_survey_responses as responses
    left join orders
        on responses.order_id = orders.order_id
    left join account_owners as accounts
        on
            responses.account_id = accounts.account_id
            and {{ holds_on('accounts', 'cast(responses.submitted_at as date)') }}
),

final as (
    select
        rep_id,
        month,
        cast(sum(case when survey_type = 'nps' then 1 else 0 end) as {{ dbt.type_bigint() }}) as nps_responses,
        cast(sum(case when survey_type = 'nps' and score >= 9 then 1 else 0 end) as {{ dbt.type_bigint() }}) as nps_promoters,
        cast(sum(case when survey_type = 'nps' and score <= 6 then 1 else 0 end) as {{ dbt.type_bigint() }}) as nps_detractors,
        cast(sum(case when survey_type = 'csat' then 1 else 0 end) as {{ dbt.type_bigint() }}) as csat_responses,
        cast(sum(case when survey_type = 'csat' and score >= 4 then 1 else 0 end) as {{ dbt.type_bigint() }}) as csat_satisfied
    from responses
    where rep_id is not null
    group by rep_id, month
)

select * from final
