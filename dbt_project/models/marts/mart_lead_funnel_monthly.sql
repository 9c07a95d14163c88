-- Lead funnel per lead cohort (month of created_at) and lead source (marts.md
-- mart_lead_funnel_monthly). Only (cohort_month, lead_source) pairs that have leads appear.
with stg_leads as (
    select * from {{ ref('stg_leads') }}
),

fct_opportunities as (
    select * from {{ ref('fct_opportunities') }}
),

leads as (
    select
        leads.lead_id,
        leads.lead_source,
        cast({{ dbt.date_trunc('month', 'leads.created_at') }} as date) as cohort_month,
        case
            when leads.qualified_at is not null or leads.status in ('qualified', 'converted') then 1
            else 0
        end as is_qualified,
        case when leads.converted_opportunity_id is not null then 1 else 0 end as is_converted,
        case when opportunities.status = 'won' then 1 else 0 end as is_won,
        case when opportunities.status = 'won' then opportunities.amount else 0 end as won_amount,
        -- days to convert: converted leads (opportunity set) whose conversion time is known
        case
            when leads.converted_opportunity_id is not null
                then {{ dbt.datediff('leads.created_at', 'leads.converted_at', 'second') }} / cast(86400 as {{ type_double() }})  -- double: Spark rounds a decimal quotient
        end as days_to_convert
    from stg_leads as leads
    left join fct_opportunities as opportunities
        on leads.converted_opportunity_id = opportunities.opportunity_id
),

cohorts as (
    select
        cohort_month,
        lead_source,
        count(*) as leads_created,
        sum(is_qualified) as leads_qualified,
        sum(is_converted) as leads_converted,
        sum(is_won) as opportunities_won,
        sum(won_amount) as won_amount,
        sum(days_to_convert) as days_to_convert_total,
        count(days_to_convert) as leads_with_convert_time
    from leads
    group by cohort_month, lead_source
),

final as (
    select
        cohort_month,
        cast(lead_source as {{ dbt.type_string() }}) as lead_source,
        cast(leads_created as {{ dbt.type_bigint() }}) as leads_created,
        cast(leads_qualified as {{ dbt.type_bigint() }}) as leads_qualified,
        cast(leads_converted as {{ dbt.type_bigint() }}) as leads_converted,
        cast(opportunities_won as {{ dbt.type_bigint() }}) as opportunities_won,
        cast(won_amount as decimal(18, 2)) as won_amount,
        {{ safe_divide('leads_qualified', 'leads_created') }} as qualification_rate,
        {{ safe_divide('leads_converted', 'leads_created') }} as conversion_rate,
        {{ safe_divide('opportunities_won', 'leads_created') }} as lead_to_win_rate,
        cast(days_to_convert_total as {{ type_double() }}) as days_to_convert_total,
        cast(leads_with_convert_time as {{ dbt.type_bigint() }}) as leads_with_convert_time,
        {{ safe_divide('days_to_convert_total', 'leads_with_convert_time') }} as avg_days_to_convert
    from cohorts
)

select * from final
