{#-
  Settings for the transaction that builds one model (a project-wide pre-hook; nothing on engines
  that need none). PostgreSQL: no JIT. The marts are wide analytical queries over a stack of views
  whose estimated cost is far above jit_above_cost, so the server spends seconds compiling LLVM
  code for a query that then runs in milliseconds (measured: 12.7 of 12.8 s for
  mart_rep_kpi_monthly at scale 0.05). `set local` ends with the model's transaction.
-#}
{% macro model_session_settings() -%}
    {{ return(adapter.dispatch('model_session_settings')()) }}
{%- endmacro %}

{% macro default__model_session_settings() -%}
{%- endmacro %}

{% macro postgres__model_session_settings() -%}
    set local jit = off
{%- endmacro %}
