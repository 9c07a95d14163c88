{#- Every value of `column_name` is `any_value` or a pipe-separated list of `values` (e.g.
    `call|email`): the rows that name anything else. Portable (replace, no string splitting): each
    known `|value|` is cut twice from the padded list, so a valid list shrinks to a single `|`. -#}
{% test accepted_pipe_list(model, column_name, values, any_value='any') %}
{%- set padded = dbt.concat(["'|'", column_name, "'|'"]) %}
{%- set ns = namespace(expression=padded) %}
{%- for pass in [1, 2] %}
{%- for value in values %}
{%- set ns.expression = "replace(" ~ ns.expression ~ ", '|" ~ value ~ "|', '|')" %}
{%- endfor %}
{%- endfor %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is null
   or ({{ column_name }} <> '{{ any_value }}' and {{ ns.expression }} <> '|')
{% endtest %}
