-- Are complaints handled (marts.md mart_service_monthly): one row per team x month, zero-filled.
-- A case belongs to its account's owner on the day it was opened, and counts for that rep's team
-- in the month it was opened (marts.md "Point in time"). Durations run to first response / resolution;
-- a case still without a response is measured against "now" (the end of the as_of day).
with calendar as (
    select now_ts from {{ ref('int_calendar') }}
),

account_owners as (
    select * from {{ ref('int_account_owners') }}
),

rep_teams as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

reps as (
    select * from {{ ref('int_reps') }}
),

stg_cases as (
    select * from {{ ref('stg_cases') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

int_teams as (
    select * from {{ ref('int_teams') }}
),

cases as (
    select
        cases.case_id,
        coalesce(rep_teams.team_id, reps.team_id) as team_id,
        cases.category,
        cast({{ dbt.date_trunc('month', 'cases.opened_at') }} as date) as opened_month,
        cast({{ dbt.date_trunc('month', 'cases.resolved_at') }} as date) as resolved_month,
        {{ dbt.datediff('cases.opened_at', 'cases.first_response_at', 'second') }} / cast(3600 as {{ type_double() }}) as first_response_hours,
        {{ dbt.datediff('cases.opened_at', 'cases.resolved_at', 'second') }} / cast(3600 as {{ type_double() }}) as resolution_hours,
        case
            when cases.first_response_at is not null
                then case
                    when
                        {{ dbt.datediff('cases.opened_at', 'cases.first_response_at', 'second') }}
                        > {{ var('service_first_response_sla_hours') }} * 3600
                        then 1
                    else 0
                end
            -- no response yet: a breach once the case is older than the SLA at as_of
            else case
                when
                    {{ dbt.datediff('cases.opened_at', 'calendar.now_ts', 'second') }}
                    > {{ var('service_first_response_sla_hours') }} * 3600
                    then 1
                else 0
            end
        end as is_first_response_breach
    from stg_cases as cases
    cross join calendar
    inner join account_owners as owners
        on
            cases.account_id = owners.account_id
            and {{ holds_on('owners', 'cast(cases.opened_at as date)') }}
    left join rep_teams
        on
            owners.owner_rep_id = rep_teams.rep_id
            and rep_teams.month = cast({{ dbt.date_trunc('month', 'cases.opened_at') }} as date)
    left join reps
        on owners.owner_rep_id = reps.rep_id
    where rep_teams.team_id is not null or reps.team_id is not null
),

opened as (
    select
        team_id,
        opened_month as month,
        count(*) as cases_opened,
        sum(case when category = 'complaint' then 1 else 0 end) as complaints_opened,
        sum(is_first_response_breach) as first_response_breaches,
        percentile_cont(0.5) within group (order by first_response_hours) as median_first_response_hours
    from cases
    group by team_id, opened_month
),

resolved as (
    select
        team_id,
        resolved_month as month,
        count(*) as cases_resolved,
        percentile_cont(0.5) within group (order by resolution_hours) as median_resolution_hours
    from cases
    where resolved_month is not null
    group by team_id, resolved_month
),

final as (
    select
        months.month,
        cast(teams.team_id as {{ dbt.type_string() }}) as team_id,
        cast(coalesce(opened.cases_opened, 0) as {{ dbt.type_bigint() }}) as cases_opened,
        cast(coalesce(opened.complaints_opened, 0) as {{ dbt.type_bigint() }}) as complaints_opened,
        cast(coalesce(resolved.cases_resolved, 0) as {{ dbt.type_bigint() }}) as cases_resolved,
        cast(opened.median_first_response_hours as {{ type_double() }}) as median_first_response_hours,
        cast(resolved.median_resolution_hours as {{ type_double() }}) as median_resolution_hours,
        cast(coalesce(opened.first_response_breaches, 0) as {{ dbt.type_bigint() }}) as first_response_breaches,
        {{ safe_divide('opened.first_response_breaches', 'opened.cases_opened') }} as first_response_breach_rate
    from int_months as months
    cross join int_teams as teams
    left join opened
        on months.month = opened.month and teams.team_id = opened.team_id
    left join resolved
        on months.month = resolved.month and teams.team_id = resolved.team_id
)

select * from final
