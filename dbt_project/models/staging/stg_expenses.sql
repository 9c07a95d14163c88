-- Actual spend per team and category.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'expenses'), ['expense_id'], 'E') }}
),

fx_rates as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

rated as (
    select
        versions.*,
        {{ fx_rate('versions.currency') }} as fx_rate
    from versions
    {{ fx_join('versions.currency', 'versions.expense_date') }}
),

final as (
    select
        expense_id,
        expense_date,
        team_id,
        category,
        {{ to_reporting('amount', 'fx_rate') }} as amount,
        rep_id,
        description,
        currency,
        fx_rate,
        _batch_id,
        _loaded_at
    from rated
)

select * from final
