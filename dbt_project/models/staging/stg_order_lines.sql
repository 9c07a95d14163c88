-- Order lines; net amount = quantity * unit_price - coalesce(discount_amount, 0).
-- Event entity: latest file, then latest row, wins per key.
{{ config(materialized=stored_staging()) }}  -- a table: read by many models, tests and checks (macros/stored_staging.sql)
with versions as (
    {{ latest_version(source('raw', 'order_lines'), ['order_id', 'line_number'], 'E') }}
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    discount_amount,
    _batch_id,
    _loaded_at
from versions
