{#-
  The large event staging models kept up to date by key (issue 23): `{{ config(**incremental_staging('order_id')) }}`.
  Raw batches are append-only, and every new batch's _loaded_at is later than every earlier
  batch's (ingestion/loader.py's batch clock; orchestration/refresh.py refreshes everything when a
  batch older than the last build's newest turns up, or a batch was retired). So the keys whose
  latest version can have changed since the table was built are the keys of the raw rows loaded
  after the newest _loaded_at it holds (staging_watermark), plus whatever the model re-derives from
  another input (an order's fx rate). An incremental run recomputes the latest version of those
  keys from all their raw rows and replaces them (delete+insert on the key); every other row stays.
  `dbt build --full-refresh` rebuilds the table whole. Only on DuckDB: PostgreSQL stores the
  staging layer as tables rebuilt every run, Spark keeps views (macros/stored_staging.sql).
-#}
{% macro incremental_staging(unique_key) -%}
    {%- if target.type != 'duckdb' -%}
        {{ return({'materialized': stored_staging()}) }}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) }}
{%- endmacro %}

{#- The newest raw row the table already holds: rows loaded after it are new to the table. -#}
{% macro staging_watermark() -%}
    select coalesce(max(_loaded_at), cast('1900-01-01' as timestamp)) as loaded_at from {{ this }}
{%- endmacro %}

{#- Did `relation` (an import CTE of a raw table) get rows after the watermark CTE's time? -#}
{% macro arrived_since_watermark(relation) -%}
    select count(*) > 0 as arrived
    from {{ relation }}
    cross join watermark
    where {{ relation }}._loaded_at > watermark.loaded_at
{%- endmacro %}
