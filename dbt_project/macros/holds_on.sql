{#-
  True when the validity interval of row `alias` (valid_from inclusive, valid_to exclusive, NULL =
  open-ended) holds on `day`: the effective-dated "state on day d" join of exports.md.
-#}
{% macro holds_on(alias, day) -%}
    ({{ alias }}.valid_from <= {{ day }} and ({{ alias }}.valid_to is null or {{ day }} < {{ alias }}.valid_to))
{%- endmacro %}
