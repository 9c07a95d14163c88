{#- A model's row contract in one dbt test: required columns (`not_null`), keys (`unique`: each
    entry a column or a list of columns, NULLs compare equal) and enums (`accepted_values`:
    {column: [values]}, compared as text, NULL allowed as in dbt's accepted_values). Each failure
    row names the property and the column(s), and the offending key or value with its row count
    (for a NULL, the count of NULL rows). One test instead of one per property: a dbt test's cost
    is mostly per test (a query, a dbt node, a Dagster check), not per scanned row. -#}
{% test model_contract(model, not_null=[], unique=[], accepted_values={}) %}
{%- set parts = [] %}
{%- set text = dbt.type_string() %}
{%- for column in not_null %}
{%- do parts.append(
    "select 'not_null' as failed_property, '" ~ column ~ "' as column_name, cast(null as " ~ text
    ~ ") as offending_value, null_rows_" ~ loop.index ~ " as n_rows from null_counts where null_rows_"
    ~ loop.index ~ " > 0") %}
{%- endfor %}
{%- for key in unique %}
{%- set columns = [key] if key is string else key %}
{%- set values = [] %}
{%- for column in columns %}
{%- if not loop.first %}{% do values.append("', '") %}{% endif %}
{%- do values.append("coalesce(cast(" ~ column ~ " as " ~ text ~ "), 'NULL')") %}
{%- endfor %}
{%- do parts.append(
    "select 'unique' as failed_property, '" ~ columns | join(', ') ~ "' as column_name, "
    ~ (dbt.concat(values) if values | length > 1 else values[0]) ~ " as offending_value, count(*) as n_rows from "
    ~ model ~ " group by " ~ columns | join(', ') ~ " having count(*) > 1") %}
{%- endfor %}
{%- for column, allowed in accepted_values.items() %}
{%- do parts.append(
    "select 'accepted_values' as failed_property, '" ~ column ~ "' as column_name, cast(" ~ column
    ~ " as " ~ text ~ ") as offending_value, count(*) as n_rows from " ~ model ~ " where " ~ column
    ~ " is not null and cast(" ~ column ~ " as " ~ text ~ ") not in ('" ~ allowed | join("', '")
    ~ "') group by " ~ column) %}
{%- endfor %}
{%- if not_null %}
with null_counts as (
    select
    {%- for column in not_null %}
        sum(case when {{ column }} is null then 1 else 0 end) as null_rows_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{% endif -%}
{{ parts | join('\nunion all\n') }}
{% endtest %}
