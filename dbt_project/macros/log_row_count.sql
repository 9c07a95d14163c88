{#-
  A project-wide post-hook of every model and seed (dbt_project.yml): a stored relation (table,
  incremental, seed) logs its row count as it is built, in a line the dbt step reads from dbt's
  event stream ("salesdw row count <unique_id> <rows>"; orchestration/assets/warehouse.py) and puts
  on the model's materialization as `dagster/row_count`. Counted inside dbt, the materializations
  can stream to Dagster as dbt finishes each model: the step's process cannot open the DuckDB file
  while dbt holds it for writing, so a count read afterwards held every event back to the build's
  end. Views log nothing: counting one would run its query. A model whose own post-hook changes
  its rows logs again after it (int_order_lines); the last line wins.
-#}
{% macro log_row_count() -%}
    {%- if execute and model.config.materialized in ('table', 'incremental', 'seed') -%}
        {%- set rows = run_query('select count(*) from ' ~ this).columns[0].values()[0] -%}
        {%- do log('salesdw row count ' ~ model.unique_id ~ ' ' ~ rows, info=True) -%}
    {%- endif -%}
{%- endmacro %}
