-- Opportunity facts per owner rep and month: created in the month of created_date; won and lost
-- in the month of close_date (marts.md mart_rep_kpi_monthly). Deals without an amount count as 0.
with opportunities as (
    select
        owner_rep_id as rep_id,
        status,
        amount,
        sales_cycle_days,
        cast({{ dbt.date_trunc('month', 'created_date') }} as date) as created_month,
        cast({{ dbt.date_trunc('month', 'close_date') }} as date) as close_month
    from {{ ref('fct_opportunities') }}
    where owner_rep_id is not null
),

created_facts as (
    select rep_id, created_month as month, count(*) as opportunities_created
    from opportunities
    where created_month is not null
    group by rep_id, created_month
),

closed_facts as (
    select
        rep_id,
        close_month as month,
        sum(case when status = 'won' then 1 else 0 end) as opportunities_won,
        sum(case when status = 'lost' then 1 else 0 end) as opportunities_lost,
        sum(case when status = 'won' then coalesce(amount, 0) else 0 end) as won_amount,
        sum(case when status = 'won' then sales_cycle_days end) as sales_cycle_days_total,
        -- won deals whose cycle is known (a deal without created_date has none)
        count(case when status = 'won' then sales_cycle_days end) as sales_cycle_deals
    from opportunities
    where
        status in ('won', 'lost')
        and close_month is not null
    group by rep_id, close_month
),

rep_months as (
    select rep_id, month from created_facts
    union
    select rep_id, month from closed_facts
),

final as (
    select
        rep_months.rep_id,
        rep_months.month,
        cast(coalesce(created_facts.opportunities_created, 0) as {{ dbt.type_bigint() }}) as opportunities_created,
        cast(coalesce(closed_facts.opportunities_won, 0) as {{ dbt.type_bigint() }}) as opportunities_won,
        cast(coalesce(closed_facts.opportunities_lost, 0) as {{ dbt.type_bigint() }}) as opportunities_lost,
        cast(coalesce(closed_facts.won_amount, 0) as decimal(18, 2)) as won_amount,
        cast(coalesce(closed_facts.sales_cycle_days_total, 0) as {{ dbt.type_bigint() }}) as sales_cycle_days_total,
        cast(coalesce(closed_facts.sales_cycle_deals, 0) as {{ dbt.type_bigint() }}) as sales_cycle_deals
    from rep_months
    left join created_facts
        on rep_months.rep_id = created_facts.rep_id and rep_months.month = created_facts.month
    left join closed_facts
        on rep_months.rep_id = closed_facts.rep_id and rep_months.month = closed_facts.month
)

select * from final
