-- LT02 (indentation) is off in this model: the linter misreads Jinja loops, and its fix breaks them
-- noqa: disable=LT02
-- The state of each opportunity on any day (marts.md "History: what was known then"): one row per
-- opportunity x interval over which its stage, amount, close date and owner stay the same. On day d
-- each attribute is that of the latest event dated <= d that carries it, else of the earliest event
-- that does (what was first known stands for the time before it), so the first interval starts on
-- 1900-01-01. Join on day d with holds_on(alias, d).
{{ config(materialized=stored_intermediate()) }}  -- a table: evaluated by several queries of a build (macros/stored_staging.sql)
{%- set attributes = ['stage', 'amount', 'close_date', 'owner_rep_id'] %}
with events as (
    select * from {{ ref('int_opportunity_events') }}
),

{% for attribute in attributes %}
{{ attribute }}_last_per_day as (
    -- the attribute's value at the end of each day that has an event carrying it
    select opportunity_id, event_date, {{ attribute }}
    from (
        select
            opportunity_id,
            event_date,
            {{ attribute }},
            row_number() over (partition by opportunity_id, event_date order by event_seq desc) as rank_in_day
        from events
        where {{ attribute }} is not null
    ) as ranked
    where rank_in_day = 1
),

{{ attribute }}_intervals as (
    select
        opportunity_id,
        {{ attribute }},
        case
            when row_number() over (partition by opportunity_id order by event_date) = 1
                then cast('1900-01-01' as date)
            else event_date
        end as valid_from,
        lead(event_date) over (partition by opportunity_id order by event_date) as valid_to
    from {{ attribute }}_last_per_day
),

{% endfor %}
change_days as (
    select distinct opportunity_id, event_date from events
),

change_intervals as (
    select
        opportunity_id,
        case
            when row_number() over (partition by opportunity_id order by event_date) = 1
                then cast('1900-01-01' as date)
            else event_date
        end as valid_from,
        lead(event_date) over (partition by opportunity_id order by event_date) as valid_to
    from change_days
),

final as (
    select
        change_intervals.opportunity_id,
        change_intervals.valid_from,
        change_intervals.valid_to,
        {%- for attribute in attributes %}
        {{ attribute }}_intervals.{{ attribute }}{{ ',' if not loop.last }}
        {%- endfor %}
    from change_intervals
    {%- for attribute in attributes %}
    left join {{ attribute }}_intervals
        on change_intervals.opportunity_id = {{ attribute }}_intervals.opportunity_id
       and {{ holds_on(attribute ~ '_intervals', 'change_intervals.valid_from') }}
    {%- endfor %}
)

select * from final
