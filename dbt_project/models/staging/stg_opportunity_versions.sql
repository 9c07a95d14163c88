-- Every loaded raw version of every opportunity (marts.md "History: what was known then"): the raw
-- zone keeps each row of each file, so this is the deal as each export saw it. The event time is
-- updated_at, else the UTC date its file landed (the day the warehouse first knew this version).
with raw_opportunities as (
    select * from {{ source('raw', 'opportunities') }}
),

final as (
    select
        opportunity_id,
        owner_rep_id,
        stage,
        created_at,
        close_date,
        amount,
        updated_at,
        cast(_loaded_at as date) as landed_date,
        coalesce(updated_at, cast(cast(_loaded_at as date) as timestamp)) as event_at,
        _batch_id,
        _loaded_at,
        _row_number
    from raw_opportunities
)

select * from final
