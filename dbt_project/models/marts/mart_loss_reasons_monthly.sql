-- Why deals are lost (marts.md mart_loss_reasons_monthly): one row per month x team x lost_reason
-- over the opportunities lost with close_date in the month; an empty lost_reason is a row of its
-- own (NULL). The team is the owner's team in the close month (marts.md "Point in time").
with opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

staged_opportunities as (
    select * from {{ ref('stg_opportunities') }}
),

rep_teams as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

lost as (
    select
        cast({{ dbt.date_trunc('month', 'opportunities.close_date') }} as date) as month,
        opportunities.owner_rep_id,
        staged_opportunities.lost_reason,
        opportunities.amount
    from opportunities
    inner join staged_opportunities
        on opportunities.opportunity_id = staged_opportunities.opportunity_id
    where
        opportunities.status = 'lost'
        and opportunities.close_date is not null
),

lost_by_team as (
    select
        lost.month,
        rep_teams.team_id,
        lost.lost_reason,
        count(*) as lost_count,
        sum(lost.amount) as lost_amount
    from lost
    left join rep_teams
        on lost.owner_rep_id = rep_teams.rep_id and lost.month = rep_teams.month
    group by lost.month, rep_teams.team_id, lost.lost_reason
),

final as (
    select
        month,
        cast(team_id as {{ dbt.type_string() }}) as team_id,
        cast(lost_reason as {{ dbt.type_string() }}) as lost_reason,
        cast(lost_count as {{ dbt.type_bigint() }}) as lost_count,
        cast(lost_amount as decimal(18, 2)) as lost_amount,
        {{ safe_divide('lost_count', 'sum(lost_count) over (partition by month, team_id)') }} as share_of_lost
    from lost_by_team
)

select * from final
