-- Monthly budget per team and category.
-- Snapshot entity: the newest file per source profile is the current state.
with versions as (
    {{ latest_version(source('raw', 'budgets'), ['month', 'team_id', 'category'], 'S') }}
)

select
    month,
    team_id,
    category,
    budget_amount,
    currency,
    _batch_id,
    _loaded_at
from versions
