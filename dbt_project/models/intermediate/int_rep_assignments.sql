-- The rep -> team contract of point-in-time attribution (marts.md "Point in time"): one row per
-- rep_id and validity interval [valid_from, valid_to). The rep's earliest interval starts on
-- 1900-01-01 (the first known version stands for the time before it); the last is open (NULL).
-- Use {{ '{{' }} holds_on('assignment', 'day') {{ '}}' }} to pick the interval holding on a day.
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
with reps_history as (
    select * from {{ ref('int_reps_history') }}
),

teams as (
    select * from {{ ref('int_teams') }}
),

final as (
    select
        reps_history.rep_id,
        reps_history.team_id,
        -- The rep's own region, else the team's (as int_reps); a team's region is taken from
        -- its current export.
        coalesce(reps_history.region, teams.region) as region,
        reps_history.valid_from,
        reps_history.valid_to
    from reps_history
    left join teams
        on reps_history.team_id = teams.team_id
)

select * from final
