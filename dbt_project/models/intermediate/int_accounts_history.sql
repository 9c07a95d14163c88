-- Every version of every account, effective-dated (exports.md "Snapshots are effective-dated"):
-- one row per account_id and validity interval [valid_from, valid_to).
with raw_accounts as (
    select * from {{ source('raw', 'accounts') }}
),

versions as (
    {{ effective_history('raw_accounts', 'account_id') }}
),

final as (
    select
        account_id,
        account_name,
        industry,
        region,
        city,
        owner_rep_id,
        created_at,
        lead_source,
        _effective_date as effective_date,
        _valid_from as valid_from,
        _valid_to as valid_to,
        _batch_id
    from versions
)

select * from final
