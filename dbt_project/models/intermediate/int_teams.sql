-- Every team a mart reports on: the team export, plus any team that a rep names but the team
-- export lacks (a late-arriving reference must not drop that rep's figures from the team marts),
-- now or in any earlier version of the rep (point-in-time attribution credits past teams).
with stg_reps as (
    select * from {{ ref('stg_reps') }}
),

int_reps_history as (
    select * from {{ ref('int_reps_history') }}
),

stg_teams as (
    select * from {{ ref('stg_teams') }}
),

named_by_reps as (
    select team_id from stg_reps
    union
    select team_id from int_reps_history
),

all_teams as (
    select team_id from stg_teams
    union
    select team_id from named_by_reps
),

final as (
    select
        all_teams.team_id,
        teams.team_name,
        teams.region,
        teams.manager_rep_id
    from all_teams
    left join stg_teams as teams
        on all_teams.team_id = teams.team_id
)

select * from final
