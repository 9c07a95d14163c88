{#- A line's net amount (exports.md): quantity * unit_price - coalesce(discount_amount, 0), in money. -#}
{% macro order_line_net_amount(quantity, unit_price, discount_amount) -%}
    cast({{ quantity }} * {{ unit_price }} - coalesce({{ discount_amount }}, 0) as decimal(18, 2))
{%- endmacro %}
