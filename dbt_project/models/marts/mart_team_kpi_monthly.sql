-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- Monthly KPIs per team (marts.md mart_team_kpi_monthly): the sum of the rep rows of the month
-- that carry the team (the rep's team in that month, marts.md "Point in time") in mart_rep_kpi_monthly (ratios recomputed from the summed parts), zero-filled for
-- every team from the first month of data to the as_of month, plus team targets, spend, the open
-- pipeline at the month's start and sales velocity. Active and new customers are not summed: an
-- account two reps of the team sold to in the month counts once (distinct over the team's orders).
{%- set additive_parts = [
    'gross_revenue', 'refunds_amount', 'net_revenue', 'orders_count', 'units_sold',
    'opportunities_created', 'opportunities_won', 'opportunities_lost',
    'opportunities_closed', 'won_amount', 'sales_cycle_days_total', 'sales_cycle_deals', 'calls', 'visits',
    'meetings', 'demos', 'emails_sent', 'inbound_emails', 'inbound_emails_answered',
    'email_response_hours_total', 'nps_responses', 'nps_promoters', 'nps_detractors', 'csat_responses',
    'csat_satisfied', 'complaints_opened'] %}
with rep_rows as (
    select * from {{ ref('mart_rep_kpi_monthly') }}
    where team_id is not null
),

orders as (
    select * from {{ ref('int_orders') }}
),

stg_expenses as (
    select * from {{ ref('stg_expenses') }}
),

int_teams as (
    select * from {{ ref('int_teams') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

stg_targets as (
    select * from {{ ref('stg_targets') }}
),

fct_opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

int_rep_teams_monthly as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

rep_sums as (
    select
        team_id,
        month
        {%- for part in additive_parts %},
        sum({{ part }}) as {{ part }}
        {%- endfor %}
    from rep_rows
    group by team_id, month
),

-- Each account's first completed order (macros/first_order_ids.sql).
first_order_ids as (
    {{ first_order_ids('orders') }}
),

-- Each completed order with the account's first one marked, credited to its rep as
-- int_rep_sales_monthly credits it.
ranked_orders as (
    select
        orders.account_id,
        orders.rep_id,
        orders.order_month,
        case when first_order_ids.first_order_id is not null then 1 end as order_rank
    from orders
    left join first_order_ids
        on orders.order_id = first_order_ids.first_order_id
),

-- An order counts for the team its rep's row carries in the order's month (the rep mart's
-- point-in-time team); a customer is counted once per team, whichever of its reps sold.
team_customers as (
    select
        rep_rows.team_id,
        rep_rows.month,
        count(distinct ranked_orders.account_id) as active_customers,
        count(distinct case when ranked_orders.order_rank = 1 then ranked_orders.account_id end) as new_customers
    from ranked_orders
    inner join rep_rows
        on ranked_orders.rep_id = rep_rows.rep_id
       and ranked_orders.order_month = rep_rows.month
    group by rep_rows.team_id, rep_rows.month
),

team_spend as (
    select
        team_id,
        cast({{ dbt.date_trunc('month', 'expense_date') }} as date) as month,
        sum(amount) as total_spend
    from stg_expenses
    group by team_id, cast({{ dbt.date_trunc('month', 'expense_date') }} as date)
),

team_months as (
    select teams.team_id, months.month
    from int_teams as teams
    cross join int_months as months
    union
    select team_id, month from rep_sums
    union
    select team_id, month from team_spend
),

team_targets as (
    select
        team_id,
        month,
        sum(case when metric = 'net_revenue' then target_value end) as revenue_target,
        sum(case when metric = 'new_customers' then target_value end) as new_customers_target,
        sum(case when metric = 'visits' then target_value end) as visits_target,
        -- a rate target is one value per key (stg_targets is unique per month, metric, team): max, not a sum
        max(case when metric = 'csat_rate' then target_value end) as csat_target,
        max(case when metric = 'nps' then target_value end) as nps_target
    from stg_targets
    where team_id is not null
    group by team_id, month
),

-- The team of a deal in month m: its owner's team in m (the current team outside the calendar).
team_month_list as (
    select distinct month from team_months
),

opportunity_teams as (
    select
        opportunities.opportunity_id,
        opportunities.created_date,
        opportunities.status,
        opportunities.close_date,
        months.month,
        coalesce(rep_teams.team_id, opportunities.team_id) as team_id
    from fct_opportunities as opportunities
    cross join team_month_list as months
    left join int_rep_teams_monthly as rep_teams
        on opportunities.owner_rep_id = rep_teams.rep_id
       and months.month = rep_teams.month
    where opportunities.created_date < months.month
),

-- Open at the month's start: created before it and not closed before it (a closed deal without
-- a close_date cannot be shown closed before, so it stays open). A count of deals, not amounts.
open_pipeline as (
    select
        team_months.team_id,
        team_months.month,
        count(*) as open_pipeline_start
    from team_months
    inner join opportunity_teams as opportunities
        on team_months.team_id = opportunities.team_id
       and team_months.month = opportunities.month
       and (
            opportunities.status = 'open'
            or opportunities.close_date is null
            or team_months.month <= opportunities.close_date
       )
    group by team_months.team_id, team_months.month
),

team_parts as (
    select
        team_months.team_id,
        team_months.month
        {%- for part in additive_parts %},
        coalesce(rep_sums.{{ part }}, 0) as {{ part }}
        {%- endfor %},
        coalesce(team_customers.active_customers, 0) as active_customers,
        coalesce(team_customers.new_customers, 0) as new_customers,
        team_targets.revenue_target,
        team_targets.new_customers_target,
        team_targets.visits_target,
        team_targets.csat_target,
        team_targets.nps_target,
        coalesce(team_spend.total_spend, 0) as total_spend,
        coalesce(open_pipeline.open_pipeline_start, 0) as open_pipeline_start
    from team_months
    left join rep_sums
        on team_months.team_id = rep_sums.team_id and team_months.month = rep_sums.month
    left join team_customers
        on team_months.team_id = team_customers.team_id and team_months.month = team_customers.month
    left join team_targets
        on team_months.team_id = team_targets.team_id and team_months.month = team_targets.month
    left join team_spend
        on team_months.team_id = team_spend.team_id and team_months.month = team_spend.month
    left join open_pipeline
        on team_months.team_id = open_pipeline.team_id and team_months.month = open_pipeline.month
),

team_kpis as (
    select
        team_parts.month,
        team_parts.team_id,
        teams.team_name,
        teams.region,
        {{ kpi_measure_columns('team_parts') }},
        cast(team_parts.revenue_target as decimal(18, 2)) as revenue_target,
        cast(team_parts.new_customers_target as decimal(18, 2)) as new_customers_target,
        cast(team_parts.visits_target as decimal(18, 2)) as visits_target,
        {{ safe_divide('team_parts.net_revenue', 'team_parts.revenue_target') }} as revenue_attainment,
        {{ safe_divide('team_parts.new_customers', 'team_parts.new_customers_target') }} as new_customers_attainment,
        {{ safe_divide('team_parts.visits', 'team_parts.visits_target') }} as visits_attainment,
        {{ quality_of_sale_columns('team_parts') }},
        cast(team_parts.total_spend as decimal(18, 2)) as total_spend,
        {{ safe_divide('team_parts.total_spend', 'team_parts.net_revenue') }} as spend_to_revenue_ratio,
        cast(team_parts.open_pipeline_start as {{ dbt.type_bigint() }}) as open_pipeline_start
    from team_parts
    left join int_teams as teams
        on team_parts.team_id = teams.team_id
),

final as (
    select
        team_kpis.*,
        {{ safe_divide('team_kpis.open_pipeline_start * team_kpis.win_rate * team_kpis.avg_deal_size',
                       'team_kpis.avg_sales_cycle_days') }} as sales_velocity_per_day,
        {{ revenue_growth_columns('team_kpis', 'prev_month', 'prev_year') }}
    from team_kpis
    left join team_kpis as prev_month
        on team_kpis.team_id = prev_month.team_id
       and prev_month.month = cast({{ dbt.dateadd('month', -1, 'team_kpis.month') }} as date)
    left join team_kpis as prev_year
        on team_kpis.team_id = prev_year.team_id
       and prev_year.month = cast({{ dbt.dateadd('month', -12, 'team_kpis.month') }} as date)
)

select * from final
