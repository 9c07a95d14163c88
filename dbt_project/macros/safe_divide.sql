{#-
  A ratio that is NULL (never 0, never an error) when the denominator is 0 or NULL (marts.md
  "Conventions"). The numerator is cast to double precision so integer counts divide as fractions
  on every engine (PostgreSQL would otherwise do integer division).
-#}
{% macro safe_divide(numerator, denominator) -%}
    (cast({{ numerator }} as {{ type_double() }}) / nullif(cast({{ denominator }} as {{ type_double() }}), 0))
{%- endmacro %}
