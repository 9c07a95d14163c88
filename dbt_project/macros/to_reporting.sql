{#-
  More than one currency (exports.md "Conventions"): an amount in another currency is converted
  to the reporting currency (var reporting_currency) with the fx_rates row of its currency and the
  month of the row's business date. A model that converts imports `fx_rates` (the latest
  raw.fx_rates, as in stg_fx_rates), joins it with fx_join and takes fx_rate: 1 for the reporting
  currency (or no currency), the month's rate otherwise, NULL when that rate is missing. An order's
  lines and returns are in the order's currency at its order_date's rate: stg_order_lines and
  stg_returns take fx_rate from stg_orders (a stored table) by order_id instead of rating again,
  which ran the latest-version window over every raw order twice more per build (scale 50: ~3 M
  lines; bench/). A line or return whose order is missing gets NULL and keeps its amounts, as a
  reporting-currency amount does. to_reporting keeps an amount without a
  rate as it is: the blocking staging check fx_rate_present then refuses the publish, naming the
  currency and month, so a total never silently mixes currencies.
  Portable SQL (DuckDB, PostgreSQL, Spark).
-#}
{% macro fx_join(currency, business_date, alias='fx') -%}
left join fx_rates as {{ alias }}
    on {{ alias }}.currency = {{ currency }}
   and {{ alias }}.month = cast(date_trunc('month', {{ business_date }}) as date)
{%- endmacro %}

{% macro fx_rate(currency, alias='fx') -%}
cast(case
    when coalesce({{ currency }}, '{{ var("reporting_currency") }}') = '{{ var("reporting_currency") }}' then 1
    else {{ alias }}.rate_to_reporting
end as decimal(18,8))
{%- endmacro %}

{% macro to_reporting(amount, rate, data_type='decimal(18,2)') -%}
case
    when {{ rate }} is null or {{ rate }} = 1 then {{ amount }}
    else cast({{ amount }} * {{ rate }} as {{ data_type }})
end
{%- endmacro %}
