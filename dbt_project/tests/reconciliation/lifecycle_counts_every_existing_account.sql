-- Each month of mart_lifecycle_monthly, the customers over all lifecycle stages add up to the
-- accounts that exist that month (created by the month's end), counted straight from staging.
-- Returns the months that differ.
{{ config(meta={'dagster': {'ref': {'name': 'mart_lifecycle_monthly'}}}) }}  {#- the Dagster asset check's asset #}
{%- set inputs = [ref('mart_lifecycle_monthly'), ref('stg_accounts'), ref('int_months')] %}
{% if reconciliation_inputs_exist(inputs) %}
with lifecycle_totals as (
    select month, sum(customers) as customers
    from {{ ref('mart_lifecycle_monthly') }}
    group by month
),

existing_accounts as (
    select months.month, count(accounts.account_id) as accounts
    from {{ ref('int_months') }} as months
    left join {{ ref('stg_accounts') }} as accounts
        on accounts.created_at < {{ dbt.dateadd('month', 1, 'months.month') }}
    group by months.month
)

select
    coalesce(existing_accounts.month, lifecycle_totals.month) as month,
    lifecycle_totals.customers as lifecycle_customers,
    existing_accounts.accounts as existing_accounts
from existing_accounts
full outer join lifecycle_totals
    on existing_accounts.month = lifecycle_totals.month
where coalesce(lifecycle_totals.customers, 0) <> coalesce(existing_accounts.accounts, 0)
{% else %}
{{ reconciliation_not_built() }}
{% endif %}
