-- How often a deal that reached each open stage was won (marts.md mart_stage_win_rates), against
-- the seed's probability for the stage. Over every opportunity closed by the as_of_date; its team is
-- its owner's team in the close month (on the month's last day; on the as_of_date for the as_of
-- month). One row per open stage and team, plus a row with a NULL team for all deals together.
with calendar as (
    select * from {{ ref('int_calendar') }}
),

opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

stages_reached as (
    select * from {{ ref('int_opportunity_stages_reached') }}
),

rep_assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

teams as (
    select * from {{ ref('int_teams') }}
),

stages as (
    select * from {{ ref('opportunity_stages') }}
),

open_stages as (
    select stage_order, stage, probability from stages
    where not is_closed
),

closed_deals as (
    select
        opportunities.opportunity_id,
        opportunities.is_won,
        rep_assignments.team_id
    from opportunities
    cross join calendar
    left join rep_assignments
        on
            opportunities.owner_rep_id = rep_assignments.rep_id
            and {{ holds_on('rep_assignments', 'least(calendar.as_of_date, cast(' ~ dbt.dateadd('day', -1, dbt.dateadd('month', 1, dbt.date_trunc('month', 'opportunities.close_date'))) ~ ' as date))') }}
    where
        opportunities.is_closed
        and opportunities.close_date <= calendar.as_of_date
),

reached as (
    select
        closed_deals.team_id,
        closed_deals.is_won,
        stages_reached.stage_order
    from closed_deals
    inner join stages_reached
        on closed_deals.opportunity_id = stages_reached.opportunity_id
),

by_team as (
    select
        stage_order,
        team_id,
        count(*) as closed_reached,
        sum(case when is_won then 1 else 0 end) as won
    from reached
    group by stage_order, team_id
),

all_teams as (
    select
        stage_order,
        count(*) as closed_reached,
        sum(case when is_won then 1 else 0 end) as won
    from reached
    group by stage_order
),

team_rows as (
    select
        open_stages.stage_order, open_stages.stage, open_stages.probability, teams.team_id,
        by_team.closed_reached, by_team.won
    from open_stages
    cross join teams
    left join by_team
        on open_stages.stage_order = by_team.stage_order and teams.team_id = by_team.team_id
),

all_team_rows as (
    select
        open_stages.stage_order, open_stages.stage, open_stages.probability,
        cast(null as {{ dbt.type_string() }}) as team_id,
        all_teams.closed_reached, all_teams.won
    from open_stages
    left join all_teams
        on open_stages.stage_order = all_teams.stage_order
),

final as (
    select
        cast(stage_order as integer) as stage_order,
        stage,
        cast(team_id as {{ dbt.type_string() }}) as team_id,
        cast(coalesce(closed_reached, 0) as bigint) as closed_reached,
        cast(coalesce(won, 0) as bigint) as won,
        {{ safe_divide('won', 'closed_reached') }} as historical_win_rate,
        cast(probability as decimal(5, 4)) as seed_probability
    from (
        select * from team_rows
        union all
        select * from all_team_rows
    ) as stage_rows
)

select * from final
