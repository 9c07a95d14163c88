-- Monthly budget per team and category.
-- Snapshot entity: the newest file per source profile is the current state.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'budgets'), ['month', 'team_id', 'category'], 'S') }}
),

fx_rates as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

rated as (
    select
        versions.*,
        {{ fx_rate('versions.currency') }} as fx_rate
    from versions
    {{ fx_join('versions.currency', 'versions.month') }}
),

final as (
    select
        month,
        team_id,
        category,
        {{ to_reporting('budget_amount', 'fx_rate') }} as budget_amount,
        currency,
        fx_rate,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
