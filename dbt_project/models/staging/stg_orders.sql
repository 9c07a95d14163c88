-- Order headers.
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'orders'), ['order_id'], 'E') }}
)

select
    order_id,
    account_id,
    rep_id,
    opportunity_id,
    order_date,
    status,
    channel,
    currency,
    _batch_id,
    _loaded_at
from versions
