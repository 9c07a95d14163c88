-- Marketing and sales leads.
-- Event entity: latest file, then latest row, wins per key.
with versions as (
    {{ latest_version(source('raw', 'leads'), ['lead_id'], 'E') }}
),

final as (
    select
        lead_id,
        created_at,
        lead_source,
        owner_rep_id,
        status,
        qualified_at,
        converted_at,
        converted_account_id,
        converted_opportunity_id,
        company_name,
        email,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
