{#- Use the layer's schema name as-is (raw, staging, intermediate, marts, config), not
    <target_schema>_<layer>: analysts and BI tools query `marts.x` on every engine. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
