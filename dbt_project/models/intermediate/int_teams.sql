-- Every team a mart reports on: the team export, plus any team that a rep names but the team
-- export lacks (a late-arriving reference must not drop that rep's figures from the team marts).
with named_by_reps as (
    select distinct team_id from {{ ref('stg_reps') }}
),

all_teams as (
    select team_id from {{ ref('stg_teams') }}
    union
    select team_id from named_by_reps
)

select
    all_teams.team_id,
    teams.team_name,
    teams.region,
    teams.manager_rep_id
from all_teams
left join {{ ref('stg_teams') }} as teams
    on all_teams.team_id = teams.team_id
