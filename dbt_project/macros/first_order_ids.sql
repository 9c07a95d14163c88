{#-
  Each account's first completed order, as one query over `orders` (a CTE or relation with
  account_id, order_id and order_date, none of them NULL: int_orders' contract): the earliest
  order_date, then the least order_id. Two aggregations and a join, cheaper than numbering every
  order of every account. int_rep_sales_monthly credits a rep with the account's first order and
  mart_team_kpi_monthly counts it: both take it from here, so they agree on which order it is.
-#}
{% macro first_order_ids(orders) -%}
    select
        {{ orders }}.account_id,
        min({{ orders }}.order_id) as first_order_id
    from {{ orders }}
    inner join (
        select
            account_id,
            min(order_date) as first_order_date
        from {{ orders }}
        group by account_id
    ) as first_order_dates
        on
            {{ orders }}.account_id = first_order_dates.account_id
            and {{ orders }}.order_date = first_order_dates.first_order_date
    group by {{ orders }}.account_id
{%- endmacro %}
