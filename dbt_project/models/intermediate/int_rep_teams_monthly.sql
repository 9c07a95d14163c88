-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- Month x rep -> team_id and region (marts.md "Point in time"): the rep's state on the last day of
-- the month (on as_of_date for the as_of month), so a rep who moves in May counts for the old team
-- through April and for the new one from May. With var team_attribution = 'current', every month
-- takes the state on as_of_date (today's organisation restates the past).
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
{%- set attribution = var('team_attribution', 'point_in_time') %}
{%- if attribution not in ['point_in_time', 'current'] %}
{{ exceptions.raise_compiler_error(
    "var team_attribution must be 'point_in_time' or 'current', got '" ~ attribution ~ "'") }}
{%- endif %}
with calendar as (
    select * from {{ ref('int_calendar') }}
),

months as (
    select * from {{ ref('int_months') }}
),

assignments as (
    select * from {{ ref('int_rep_assignments') }}
),

rep_ids as (
    select distinct rep_id from assignments
),

month_days as (
    select
        months.month,
        case
            -- the var as a literal: the compiled SQL shows which rule it was built with
            when '{{ attribution }}' = 'current' or months.month >= calendar.as_of_month
                then calendar.as_of_date
            else cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.month')) }} as date)
        end as state_date
    from months
    cross join calendar
),

final as (
    select
        month_days.month,
        rep_ids.rep_id,
        assignments.team_id,
        assignments.region
    from month_days
    cross join rep_ids
    inner join assignments
        on rep_ids.rep_id = assignments.rep_id
       and {{ holds_on('assignments', 'month_days.state_date') }}
)

select * from final
