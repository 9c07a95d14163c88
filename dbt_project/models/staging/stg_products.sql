-- The product catalogue.
-- Snapshot entity: the newest file per source profile is the current state.
with versions as (
    {{ latest_version(source('raw', 'products'), ['product_id'], 'S') }}
),

final as (
    select
        product_id,
        product_name,
        category,
        list_price,
        unit_cost,
        currency,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
