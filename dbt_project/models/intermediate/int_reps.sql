-- One row per rep with the current team and region and the months the rep has KPI rows for
-- (marts.md: from max(hire_date, first month of data) to min(end_date, as_of month)).
with calendar as (
    select first_month, as_of_month from {{ ref('int_calendar') }}
),

stg_reps as (
    select * from {{ ref('stg_reps') }}
),

int_teams as (
    select * from {{ ref('int_teams') }}
),

reps as (
    select
        reps.rep_id,
        reps.rep_name,
        reps.team_id,
        coalesce(reps.region, teams.region) as region,
        reps.manager_rep_id,
        reps.hire_date,
        reps.end_date,
        reps.status,
        cast({{ dbt.date_trunc('month', 'reps.hire_date') }} as date) as hire_month,
        cast({{ dbt.date_trunc('month', 'reps.end_date') }} as date) as end_month
    from stg_reps as reps
    left join int_teams as teams
        on reps.team_id = teams.team_id
),

final as (
    select
        reps.rep_id,
        reps.rep_name,
        reps.team_id,
        reps.region,
        reps.manager_rep_id,
        reps.hire_date,
        reps.end_date,
        reps.status,
        case
            when reps.hire_month is null or reps.hire_month < calendar.first_month then calendar.first_month
            else reps.hire_month
        end as first_kpi_month,
        case
            when reps.end_month is null or reps.end_month > calendar.as_of_month then calendar.as_of_month
            else reps.end_month
        end as last_kpi_month
    from reps
    cross join calendar
)

select * from final
