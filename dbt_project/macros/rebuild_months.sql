{#-
  Month-partitioned incremental models (issue 23): a refresh rebuilds the months in
  control.rebuild_months, which the pipeline writes before dbt runs (orchestration/refresh.py:
  the months the new raw batches touched), and keeps every other month as it is. A table rather
  than a dbt var: a var that changes every run would defeat dbt's partial parse.

  {{ config(**month_partitioned()) }} in the model, and {{ where_rebuild_month('month') }} in the
  CTE that groups its facts. Only on DuckDB; elsewhere (PostgreSQL, Spark) the model is a table
  rebuilt whole. Without control.rebuild_months (a dbt run outside the pipeline: the pipeline drops
  the table once its build succeeded) an incremental run rebuilds every month: correct, only slower.
-#}
{% macro month_partitioned(month_column='month') -%}
    {%- if target.type != 'duckdb' -%}
        {{ return({'materialized': 'table'}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': ["{% if is_incremental() %}delete from {{ this }} where "
                     ~ "{{ where_rebuild_month('" ~ month_column ~ "', keyword='') }}{% endif %}"],
    }) }}
{%- endmacro %}

{#- An incremental run without control.rebuild_months (dropped after every pipeline build) takes every month -#}
{% macro where_rebuild_month(month_column, keyword='where') -%}
    {%- if is_incremental() -%}
        {%- set control = adapter.get_relation(database=this.database, schema='control', identifier='rebuild_months') -%}
        {{ keyword }} {% if control is none %}true{% else %}{{ month_column }} in (select month from {{ control }}){% endif %}
    {%- endif -%}
{%- endmacro %}
