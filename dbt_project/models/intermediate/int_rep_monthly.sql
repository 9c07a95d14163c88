-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- One row per rep and month with every additive KPI part, zero-filled (marts.md "Month spines"):
-- each month of the rep's employment span (int_reps.first_kpi_month .. last_kpi_month) plus any
-- other month in which a fact is attributed to the rep, so no fact ever falls out. A rep_id that
-- facts name but the rep export lacks (late-arriving reference) gets rows too, without name/team.
-- The rep's team and region are those of the month (int_rep_teams_monthly, marts.md "Point in
-- time"); a month outside the calendar (no state computed for it) falls back to the current team.
-- A table, built once per run: as a view, the rep KPI mart and each test on this model would
-- recompute all four fact models from the order lines up (measured by bench/, `make bench`).
{{ config(materialized='table') }}
{%- set fact_models = ['int_rep_sales_monthly', 'int_rep_opportunities_monthly',
                       'int_rep_activities_monthly', 'int_rep_surveys_monthly',
                       'int_rep_complaints_monthly'] %}
{%- set measures = {
    'int_rep_sales_monthly': ['gross_revenue', 'refunds_amount', 'orders_count', 'units_sold',
                              'active_customers', 'new_customers'],
    'int_rep_opportunities_monthly': ['opportunities_created', 'opportunities_won', 'opportunities_lost',
                                      'won_amount', 'sales_cycle_days_total', 'sales_cycle_deals'],
    'int_rep_activities_monthly': ['calls', 'visits', 'meetings', 'demos', 'emails_sent', 'inbound_emails',
                                   'inbound_emails_answered', 'email_response_hours_total'],
    'int_rep_surveys_monthly': ['nps_responses', 'nps_promoters', 'nps_detractors', 'csat_responses',
                                'csat_satisfied'],
    'int_rep_complaints_monthly': ['complaints_opened'],
} %}
{#- coalesce(decimal(18,2), 0) keeps the scale on DuckDB but is an unscaled numeric on PostgreSQL:
    the decimal measures are cast back to their fact model's type so both engines agree. #}
{%- set decimal_types = {'gross_revenue': 'decimal(18, 2)', 'refunds_amount': 'decimal(18, 2)',
                         'units_sold': 'decimal(18, 4)', 'won_amount': 'decimal(18, 2)'} %}
with int_reps as (
    select * from {{ ref('int_reps') }}
),

int_months as (
    select * from {{ ref('int_months') }}
),

int_rep_teams_monthly as (
    select * from {{ ref('int_rep_teams_monthly') }}
),

{% for fact_model in fact_models -%}
{{ fact_model }} as (
    select * from {{ ref(fact_model) }}
),

{% endfor -%}
employment_months as (
    select reps.rep_id, months.month
    from int_reps as reps
    inner join int_months as months
        on reps.first_kpi_month <= months.month
       and reps.last_kpi_month >= months.month
),

rep_months as (
    select rep_id, month from employment_months
    {%- for fact_model in fact_models %}
    union
    select rep_id, month from {{ fact_model }}
    {%- endfor %}
),

final as (
    select
        rep_months.rep_id,
        rep_months.month,
        reps.rep_name,
        coalesce(rep_teams.team_id, reps.team_id) as team_id,
        case when rep_teams.rep_id is null then reps.region else rep_teams.region end as region,
        employment_months.rep_id is not null as is_in_employment_span
        {%- for fact_model in fact_models %}
        {%- for measure in measures[fact_model] %},
        {%- if measure in decimal_types %}
        cast(coalesce({{ fact_model }}.{{ measure }}, 0) as {{ decimal_types[measure] }}) as {{ measure }}
        {%- else %}
        coalesce({{ fact_model }}.{{ measure }}, 0) as {{ measure }}
        {%- endif %}
        {%- endfor %}
        {%- endfor %}
    from rep_months
    left join int_reps as reps
        on rep_months.rep_id = reps.rep_id
    left join int_rep_teams_monthly as rep_teams
        on rep_months.rep_id = rep_teams.rep_id and rep_months.month = rep_teams.month
    left join employment_months
        on rep_months.rep_id = employment_months.rep_id and rep_months.month = employment_months.month
    {%- for fact_model in fact_models %}
    left join {{ fact_model }}
        on rep_months.rep_id = {{ fact_model }}.rep_id and rep_months.month = {{ fact_model }}.month
    {%- endfor %}
)

select * from final
