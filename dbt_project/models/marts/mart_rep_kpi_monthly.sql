-- Monthly KPIs per sales rep (marts.md mart_rep_kpi_monthly): the zero-filled rep months of
-- int_rep_monthly, the rep's targets, every ratio recomputed from its parts (NULL when the
-- denominator is 0 or NULL) and growth against the rep's own previous month and year.
with rep_months as (
    select * from {{ ref('int_rep_monthly') }}
),

rep_targets as (
    select
        rep_id,
        month,
        sum(case when metric = 'net_revenue' then target_value end) as revenue_target,
        sum(case when metric = 'new_customers' then target_value end) as new_customers_target,
        sum(case when metric = 'visits' then target_value end) as visits_target,
        -- a rate target is one value per key (stg_targets is unique per month, metric, rep): max, not a sum
        max(case when metric = 'csat_rate' then target_value end) as csat_target,
        max(case when metric = 'nps' then target_value end) as nps_target
    from {{ ref('stg_targets') }}
    where rep_id is not null
    group by rep_id, month
),

kpis as (
    select
        rep_months.*,
        rep_months.gross_revenue - rep_months.refunds_amount as net_revenue,
        rep_months.opportunities_won + rep_months.opportunities_lost as opportunities_closed,
        rep_targets.revenue_target,
        rep_targets.new_customers_target,
        rep_targets.visits_target,
        rep_targets.csat_target,
        rep_targets.nps_target
    from rep_months
    left join rep_targets
        on rep_months.rep_id = rep_targets.rep_id and rep_months.month = rep_targets.month
),

final as (
    select
        kpis.month,
        kpis.rep_id,
        kpis.rep_name,
        kpis.team_id,
        kpis.region,
        {{ kpi_measure_columns('kpis') }},
        cast(kpis.revenue_target as decimal(18, 2)) as revenue_target,
        cast(kpis.new_customers_target as decimal(18, 2)) as new_customers_target,
        cast(kpis.visits_target as decimal(18, 2)) as visits_target,
        {{ safe_divide('kpis.net_revenue', 'kpis.revenue_target') }} as revenue_attainment,
        {{ safe_divide('kpis.new_customers', 'kpis.new_customers_target') }} as new_customers_attainment,
        {{ safe_divide('kpis.visits', 'kpis.visits_target') }} as visits_attainment,
        {{ quality_of_sale_columns('kpis') }},
        {{ revenue_growth_columns('kpis', 'prev_month', 'prev_year') }}
    from kpis
    left join kpis as prev_month
        on
            kpis.rep_id = prev_month.rep_id
            and prev_month.month = cast({{ dbt.dateadd('month', -1, 'kpis.month') }} as date)
    left join kpis as prev_year
        on
            kpis.rep_id = prev_year.rep_id
            and prev_year.month = cast({{ dbt.dateadd('month', -12, 'kpis.month') }} as date)
)

select * from final
