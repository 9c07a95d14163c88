-- PLACEHOLDER until the organisation history lands: one open-ended interval per rep from the
-- current staging reps (valid_from 1900-01-01, valid_to NULL).
with reps as (
    select * from {{ ref('stg_reps') }}
),

teams as (
    select * from {{ ref('int_teams') }}
),

final as (
    select
        reps.rep_id,
        reps.team_id,
        coalesce(reps.region, teams.region) as region,
        cast('1900-01-01' as date) as valid_from,
        cast(null as date) as valid_to
    from reps
    left join teams
        on reps.team_id = teams.team_id
)

select * from final
