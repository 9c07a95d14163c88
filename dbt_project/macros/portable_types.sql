{#-
  Type spellings the engines disagree on, in one place. The models, contracts (models/**/*.yml
  data_type) and seeds spell types the SQL-standard way DuckDB and PostgreSQL read
  (`varchar`, `double precision`); Spark SQL reads neither without a length or at all, so on Spark
  every cast dbt generates from a declared type (contract checks, unit-test fixtures) goes through
  spark_type_spelling.
-#}

{#- A 64-bit floating-point type (rates, hours): `double precision` on DuckDB/PostgreSQL, `double` on Spark. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- The Spark spelling of a declared type: varchar/text -> string, double precision -> double. -#}
{% macro spark_type_spelling(data_type) -%}
    {%- set spelled = data_type | trim | lower -%}
    {%- if spelled in ('varchar', 'text', 'character varying') -%}string
    {%- elif spelled == 'double precision' -%}double
    {%- else -%}{{ data_type }}
    {%- endif -%}
{%- endmacro %}

{#- dbt's cast and safe_cast on Spark (dispatch finds the project's spark__ variants first). -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type_spelling(type) }})
{%- endmacro %}

{% macro spark__safe_cast(field, type) -%}
    {{ dbt_spark.spark__safe_cast(field, spark_type_spelling(type)) }}
{%- endmacro %}
