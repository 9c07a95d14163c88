-- The account -> owner contract of point-in-time attribution (marts.md "Attribution"): one row
-- per account_id and validity interval [valid_from, valid_to). The account's earliest interval
-- starts on 1900-01-01 (the first known version stands for the time before it); the last is open.
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with accounts_history as (
    select * from {{ ref('int_accounts_history') }}
),

final as (
    select
        account_id,
        owner_rep_id,
        valid_from,
        valid_to
    from accounts_history
)

select * from final
