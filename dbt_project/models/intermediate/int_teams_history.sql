-- Every version of every team, effective-dated (exports.md "Snapshots are effective-dated"):
-- one row per team_id and validity interval [valid_from, valid_to).
with raw_teams as (
    select * from {{ source('raw', 'teams') }}
),

versions as (
    {{ effective_history('raw_teams', 'team_id') }}
),

final as (
    select
        team_id,
        team_name,
        region,
        manager_rep_id,
        _effective_date as effective_date,
        _valid_from as valid_from,
        _valid_to as valid_to,
        _batch_id
    from versions
)

select * from final
