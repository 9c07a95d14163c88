-- One row per opportunity (marts.md fct_opportunities). An opportunity belongs to its owner and
-- the owner's team and region on as_of_date (marts.md "Point in time": a column describing the
-- present); a deal without amount counts as 0 in every amount (exports.md).
with calendar as (
    select as_of_date from {{ ref('int_calendar') }}
),

stages as (
    select stage, stage_order, probability, is_closed, is_won
    from {{ ref('opportunity_stages') }}
),

assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

max_reached as (
    select distinct opportunity_id, max_stage_order_reached
    from {{ ref('int_opportunity_stages_reached') }}
),

engagement as (
    select * from {{ ref('int_opportunity_engagement') }}
),

stg_opportunities as (
    select * from {{ ref('stg_opportunities') }}
),

stg_leads as (
    select * from {{ ref('stg_leads') }}
),

opportunities as (
    select
        opps.opportunity_id,
        opps.account_id,
        opps.owner_rep_id,
        reps.team_id,
        reps.region,
        opps.lead_id,
        leads.lead_source,
        opps.product_id,
        cast(opps.created_at as date) as created_date,
        opps.close_date,
        opps.stage,
        stages.stage_order,
        case
            when stages.is_won then 'won'
            when stages.is_closed then 'lost'
            else 'open'
        end as status,
        coalesce(opps.amount, 0) as amount,
        stages.probability as stage_probability,
        max_reached.max_stage_order_reached,
        coalesce(stages.is_closed, false) as is_closed,
        coalesce(stages.is_won, false) as is_won
    from stg_opportunities as opps
    left join stages
        on opps.stage = stages.stage
    cross join calendar
    left join assignments as reps
        on
            opps.owner_rep_id = reps.rep_id
            and {{ holds_on('reps', 'calendar.as_of_date') }}
    left join stg_leads as leads
        on opps.lead_id = leads.lead_id
    left join max_reached
        on opps.opportunity_id = max_reached.opportunity_id
),

final as (
    select
        opportunities.opportunity_id,
        opportunities.account_id,
        opportunities.owner_rep_id,
        opportunities.team_id,
        opportunities.region,
        opportunities.lead_id,
        opportunities.lead_source,
        opportunities.product_id,
        opportunities.created_date,
        opportunities.close_date,
        opportunities.stage,
        opportunities.stage_order,
        opportunities.status,
        cast(opportunities.amount as decimal(18, 2)) as amount,
        cast(opportunities.stage_probability as decimal(5, 4)) as stage_probability,
        cast(case opportunities.status
            when 'open' then opportunities.amount * opportunities.stage_probability
            when 'won' then opportunities.amount
            else 0
        end as decimal(18, 2)) as weighted_amount,
        cast(opportunities.max_stage_order_reached as integer) as max_stage_order_reached,
        cast(case
            when opportunities.is_closed
                then {{ dbt.datediff('opportunities.created_date', 'opportunities.close_date', 'day') }}
        end as integer) as sales_cycle_days,
        cast(case
            when not opportunities.is_closed
                then {{ dbt.datediff('opportunities.created_date', 'calendar.as_of_date', 'day') }}
        end as integer) as age_days,
        opportunities.is_closed,
        opportunities.is_won,
        engagement.last_activity_date,
        cast(case
            when opportunities.status = 'open'
                then {{ dbt.datediff('coalesce(engagement.current_stage_entered_date, opportunities.created_date)',
                                 'calendar.as_of_date', 'day') }}
        end as integer) as days_in_current_stage,
        coalesce(opportunities.status = 'open' and opportunities.close_date < calendar.as_of_date, false) as is_past_due,
        -- stale: open and not touched (an activity, or its creation) in (as_of - stale_deal_days, as_of]
        case
            when
                opportunities.status = 'open'
                and coalesce(
                    case
                        when engagement.last_activity_date > opportunities.created_date
                            then engagement.last_activity_date
                        else coalesce(opportunities.created_date, engagement.last_activity_date)
                    end,
                    cast('1900-01-01' as date)
                ) <= {{ dbt.dateadd('day', '-' ~ var('stale_deal_days'), 'calendar.as_of_date') }}
                then true
            else false
        end as is_stale
    from opportunities
    cross join calendar
    left join engagement
        on opportunities.opportunity_id = engagement.opportunity_id
)

select * from final
