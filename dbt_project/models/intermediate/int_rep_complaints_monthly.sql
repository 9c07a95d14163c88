-- Complaints per rep and month opened (marts.md "The customer-treatment loop, quality of sale"):
-- a case belongs to its account's owner on the day it was opened (marts.md "Attribution", the rep
-- responsible for the customer, whoever handled the case), as mart_service_monthly counts it per team.
-- A table (a few rows per rep and month): int_rep_monthly reads it twice.
{{ config(materialized='table') }}

with account_owners as (
    select * from {{ ref('int_account_owners') }}
),

complaints as (
    select case_id, account_id, opened_at
    from {{ ref('stg_cases') }}
    where category = 'complaint'
),

attributed as (
    select
        owners.owner_rep_id as rep_id,
        cast({{ dbt.date_trunc('month', 'complaints.opened_at') }} as date) as month,
        complaints.case_id
    from complaints
    inner join account_owners as owners
        on
            complaints.account_id = owners.account_id
            and {{ holds_on('owners', 'cast(complaints.opened_at as date)') }}
    where owners.owner_rep_id is not null
),

final as (
    select
        rep_id,
        month,
        cast(count(*) as {{ dbt.type_bigint() }}) as complaints_opened
    from attributed
    group by rep_id, month
)

select * from final
