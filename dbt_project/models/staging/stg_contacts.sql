-- People at accounts (personal data: never published in clear).
-- Snapshot entity: the newest file per source profile is the current state.
with versions as (
    {{ latest_version(source('raw', 'contacts'), ['contact_id'], 'S') }}
),

final as (
    select
        contact_id,
        account_id,
        full_name,
        email,
        phone,
        title,
        created_at,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
