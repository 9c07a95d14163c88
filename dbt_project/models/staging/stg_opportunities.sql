-- Deals; a newer row for the same opportunity_id is a newer version.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'opportunities'), ['opportunity_id'], 'E') }}
)

select
    opportunity_id,
    owner_rep_id,
    stage,
    account_id,
    lead_id,
    product_id,
    created_at,
    close_date,
    amount,
    currency,
    lost_reason,
    updated_at,
    _batch_id,
    _loaded_at
from versions
