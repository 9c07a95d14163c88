{#-
  Sort strings by their characters' code points on every engine (marts.md ties are broken "by
  account_id ascending (as strings)"). DuckDB already compares strings bytewise; PostgreSQL
  would follow the database's locale collation (where 'a2' may sort before 'B1'), so it gets "C".
-#}
{% macro string_sort_key(expression) -%}
    {{ return(adapter.dispatch('string_sort_key')(expression)) }}
{%- endmacro %}

{% macro default__string_sort_key(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__string_sort_key(expression) -%}
    {{ expression }} collate "C"
{%- endmacro %}
