{#-
  The KPI measures that mart_rep_kpi_monthly and mart_team_kpi_monthly share, in one place so a
  rep row and a team row define every metric the same way (marts.md mart_rep_kpi_monthly).
  `parts` is a relation alias whose additive parts are already summed to the row's grain; every
  ratio is recomputed here from those parts (never averaged) and is NULL when its denominator is
  0 or NULL (safe_divide).
-#}
{% macro kpi_measure_columns(parts) -%}
    cast({{ parts }}.gross_revenue as decimal(18, 2)) as gross_revenue,
    cast({{ parts }}.refunds_amount as decimal(18, 2)) as refunds_amount,
    cast({{ parts }}.net_revenue as decimal(18, 2)) as net_revenue,
    cast({{ parts }}.orders_count as {{ dbt.type_bigint() }}) as orders_count,
    cast({{ parts }}.units_sold as decimal(18, 4)) as units_sold,
    cast({{ parts }}.active_customers as {{ dbt.type_bigint() }}) as active_customers,
    cast({{ parts }}.new_customers as {{ dbt.type_bigint() }}) as new_customers,
    cast({{ parts }}.opportunities_created as {{ dbt.type_bigint() }}) as opportunities_created,
    cast({{ parts }}.opportunities_won as {{ dbt.type_bigint() }}) as opportunities_won,
    cast({{ parts }}.opportunities_lost as {{ dbt.type_bigint() }}) as opportunities_lost,
    cast({{ parts }}.opportunities_closed as {{ dbt.type_bigint() }}) as opportunities_closed,
    cast({{ parts }}.won_amount as decimal(18, 2)) as won_amount,
    {#- by count, not by value: a value-weighted rate reads 100% where lost deals carry no value #}
    {{ safe_divide(parts ~ '.opportunities_won', parts ~ '.opportunities_closed') }} as win_rate,
    cast({{ safe_divide(parts ~ '.won_amount', parts ~ '.opportunities_won') }} as decimal(18, 2)) as avg_deal_size,
    cast({{ parts }}.sales_cycle_days_total as {{ dbt.type_bigint() }}) as sales_cycle_days_total,
    cast({{ parts }}.sales_cycle_deals as {{ dbt.type_bigint() }}) as sales_cycle_deals,
    {{ safe_divide(parts ~ '.sales_cycle_days_total', parts ~ '.sales_cycle_deals') }} as avg_sales_cycle_days,
    cast({{ parts }}.calls as {{ dbt.type_bigint() }}) as calls,
    cast({{ parts }}.visits as {{ dbt.type_bigint() }}) as visits,
    cast({{ parts }}.meetings as {{ dbt.type_bigint() }}) as meetings,
    cast({{ parts }}.demos as {{ dbt.type_bigint() }}) as demos,
    cast({{ parts }}.emails_sent as {{ dbt.type_bigint() }}) as emails_sent,
    cast({{ parts }}.inbound_emails as {{ dbt.type_bigint() }}) as inbound_emails,
    cast({{ parts }}.inbound_emails_answered as {{ dbt.type_bigint() }}) as inbound_emails_answered,
    cast({{ parts }}.email_response_hours_total as {{ type_double() }}) as email_response_hours_total,
    {{ safe_divide(parts ~ '.email_response_hours_total', parts ~ '.inbound_emails_answered') }} as avg_email_response_hours,
    cast({{ parts }}.nps_responses as {{ dbt.type_bigint() }}) as nps_responses,
    cast({{ parts }}.nps_promoters as {{ dbt.type_bigint() }}) as nps_promoters,
    cast({{ parts }}.nps_detractors as {{ dbt.type_bigint() }}) as nps_detractors,
    {{ safe_divide(parts ~ '.nps_promoters - ' ~ parts ~ '.nps_detractors', parts ~ '.nps_responses') }} * 100 as nps,
    cast({{ parts }}.csat_responses as {{ dbt.type_bigint() }}) as csat_responses,
    cast({{ parts }}.csat_satisfied as {{ dbt.type_bigint() }}) as csat_satisfied,
    {{ safe_divide(parts ~ '.csat_satisfied', parts ~ '.csat_responses') }} as csat_rate
{%- endmacro %}

{#-
  Net revenue growth against the same row's previous month and the same month a year earlier
  (self-joined aliases). NULL when there is no prior row or its net revenue is 0.
-#}
{% macro revenue_growth_columns(current, prev_month, prev_year) -%}
    cast({{ prev_month }}.net_revenue as decimal(18, 2)) as net_revenue_prev_month,
    {{ safe_divide(current ~ '.net_revenue', prev_month ~ '.net_revenue') }} - 1 as revenue_growth_mom,
    cast({{ prev_year }}.net_revenue as decimal(18, 2)) as net_revenue_prev_year,
    {{ safe_divide(current ~ '.net_revenue', prev_year ~ '.net_revenue') }} - 1 as revenue_growth_yoy
{%- endmacro %}

{#-
  Quality of sale (marts.md "The customer-treatment loop, quality of sale, products"), shared by
  the rep and team KPI marts: complaints beside the orders, refunds beside the sales, and the
  satisfaction targets. `parts` holds the row's summed parts and its csat_target / nps_target;
  csat_rate and nps are recomputed from the parts as kpi_measure_columns defines them (a select
  cannot read its own aliases). nps_gap is a difference on the NPS scale (-100..100), NULL
  without responses or without a target.
-#}
{% macro quality_of_sale_columns(parts) -%}
    {%- set csat_rate = safe_divide(parts ~ '.csat_satisfied', parts ~ '.csat_responses') %}
    {%- set nps = safe_divide(parts ~ '.nps_promoters - ' ~ parts ~ '.nps_detractors', parts ~ '.nps_responses') ~ ' * 100' %}
    cast({{ parts }}.complaints_opened as {{ dbt.type_bigint() }}) as complaints_opened,
    {{ safe_divide(parts ~ '.complaints_opened', parts ~ '.orders_count') }} * 100 as complaints_per_100_orders,
    {{ safe_divide(parts ~ '.refunds_amount', parts ~ '.gross_revenue') }} as refund_rate,
    cast({{ parts }}.csat_target as decimal(18, 2)) as csat_target,
    {{ safe_divide(csat_rate, parts ~ '.csat_target') }} as csat_attainment,
    cast({{ parts }}.nps_target as decimal(18, 2)) as nps_target,
    cast({{ nps }} - {{ parts }}.nps_target as {{ type_double() }}) as nps_gap
{%- endmacro %}
