-- Returns and refunds (counted in the month of return_date).
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'returns'), ['return_id'], 'E') }}
)

select
    return_id,
    order_id,
    line_number,
    return_date,
    quantity,
    refund_amount,
    reason,
    _batch_id,
    _loaded_at
from versions
