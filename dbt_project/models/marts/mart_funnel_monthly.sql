-- Where deals stall (marts.md mart_funnel_monthly): one row per team x cohort month x funnel
-- stage. Cohort = month of created_date; deals without created_date form the NULL cohort. Rows:
-- every team (int_teams) x every month from the first month of data to the as_of month, plus the
-- NULL cohort when such deals exist (and a NULL team for deals of unknown owners) x every stage
-- of order 1-6; counts 0 and ratios NULL there. A deal's team is its owner's team in the cohort
-- month (int_rep_teams_monthly); the current team (fct_opportunities) for the NULL cohort.
with stages as (
    select stage_order, stage
    from {{ ref('opportunity_stages') }}
    where stage_order is not null
),

int_rep_teams_monthly as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

fct_opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

int_teams as (
    select * from {{ ref('int_teams') }}
),

int_opportunity_stages_reached as (
    select * from {{ ref('int_opportunity_stages_reached') }}
),

funnel_bounds as (
    select min(stage_order) as first_order, max(stage_order) as last_order from stages
),

rep_teams as (
    select * from int_rep_teams_monthly
),

dated_opportunities as (
    select
        opportunity_id,
        owner_rep_id,
        team_id as current_team_id,
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as cohort_month
    from fct_opportunities
),

opportunities as (
    select
        dated_opportunities.opportunity_id,
        coalesce(rep_teams.team_id, dated_opportunities.current_team_id) as team_id,
        dated_opportunities.cohort_month
    from dated_opportunities
    left join rep_teams
        on
            dated_opportunities.owner_rep_id = rep_teams.rep_id
            and dated_opportunities.cohort_month = rep_teams.month
),

cohorts as (
    select month as cohort_month from int_months
    union all
    select distinct cast(null as date) as cohort_month from opportunities
    where cohort_month is null
),

-- Deals whose owner is not (yet) in the rep export have no team: they keep a NULL-team row set
-- rather than falling out of the funnel (late-arriving references are never dropped).
funnel_teams as (
    select team_id from int_teams
    union all
    select distinct cast(null as {{ dbt.type_string() }}) as team_id from opportunities
    where team_id is null
),

spine as (
    select teams.team_id, cohorts.cohort_month, stages.stage_order, stages.stage
    from funnel_teams as teams
    cross join cohorts
    cross join stages
),

stage_facts as (
    select
        opportunities.team_id,
        opportunities.cohort_month,
        reached.stage_order,
        count(*) as opportunities_reached,
        sum(case when reached.max_stage_order_reached > reached.stage_order then 1 else 0 end)
            as opportunities_advanced,
        -- days in stage, from stage history: only deals that advanced and whose history holds
        -- both the entry into this stage and into the next one
        sum({{ dbt.datediff('reached.entered_at', 'reached.next_entered_at', 'second') }} / cast(86400 as {{ type_double() }}))  -- double: Spark rounds a decimal quotient
            as days_in_stage_total,
        count(case when reached.entered_at is not null then reached.next_entered_at end)
            as stage_durations_measured
    from int_opportunity_stages_reached as reached
    inner join opportunities
        on reached.opportunity_id = opportunities.opportunity_id
    group by opportunities.team_id, opportunities.cohort_month, reached.stage_order
),

funnel as (
    select
        spine.cohort_month,
        spine.team_id,
        spine.stage_order,
        spine.stage,
        coalesce(stage_facts.opportunities_reached, 0) as opportunities_reached,
        case
            when spine.stage_order < funnel_bounds.last_order
                then coalesce(stage_facts.opportunities_advanced, 0)
        end as opportunities_advanced,
        stage_facts.days_in_stage_total,
        coalesce(stage_facts.stage_durations_measured, 0) as stage_durations_measured,
        funnel_bounds.first_order
    from spine
    cross join funnel_bounds
    -- null-safe equality as `is not distinct from` (SQL standard; DuckDB, PostgreSQL and Spark), not
    -- `a = b or (a is null and b is null)`: an OR keeps the engine from hashing on team and month, and
    -- the join became teams x months x teams x months (285 s of a scale-500 build; bench/, `make bench`).
    left join stage_facts
        on
            spine.team_id is not distinct from stage_facts.team_id
            and spine.stage_order = stage_facts.stage_order
            and spine.cohort_month is not distinct from stage_facts.cohort_month
),

with_cohort_size as (
    select
        funnel.*,
        -- every deal reached the first stage, so its count is the cohort's size
        max(case when funnel.stage_order = funnel.first_order then funnel.opportunities_reached end)
            over (partition by funnel.team_id, funnel.cohort_month) as cohort_opportunities
    from funnel
),

final as (
    select
        cohort_month,
        cast(team_id as {{ dbt.type_string() }}) as team_id,
        cast(stage_order as integer) as stage_order,
        cast(stage as {{ dbt.type_string() }}) as stage,
        cast(opportunities_reached as {{ dbt.type_bigint() }}) as opportunities_reached,
        cast(opportunities_advanced as {{ dbt.type_bigint() }}) as opportunities_advanced,
        {{ safe_divide('opportunities_advanced', 'opportunities_reached') }} as stage_conversion_rate,
        cast(cohort_opportunities as {{ dbt.type_bigint() }}) as cohort_opportunities,
        {{ safe_divide('opportunities_reached', 'cohort_opportunities') }} as cumulative_conversion_rate,
        cast(days_in_stage_total as {{ type_double() }}) as days_in_stage_total,
        cast(stage_durations_measured as {{ dbt.type_bigint() }}) as stage_durations_measured,
        {{ safe_divide('days_in_stage_total', 'stage_durations_measured') }} as avg_days_in_stage
    from with_cohort_size
)

select * from final
