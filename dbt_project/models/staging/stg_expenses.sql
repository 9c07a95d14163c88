-- Actual spend per team and category.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'expenses'), ['expense_id'], 'E') }}
)

select
    expense_id,
    expense_date,
    team_id,
    category,
    amount,
    rep_id,
    description,
    currency,
    _batch_id,
    _loaded_at
from versions
