-- The days the pipeline is rebuilt as it stood (marts.md "Snapshot dates"): the last day of every
-- month from the first month of data through the month before the as_of month, and the as_of_date.
with calendar as (
    select * from {{ ref('int_calendar') }}
),

months as (
    select * from {{ ref('int_months') }}
),

month_ends as (
    select
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'months.month')) }} as date) as snapshot_date,
        months.month
    from months
    cross join calendar
    where months.month < calendar.as_of_month
),

as_of as (
    select as_of_date as snapshot_date, as_of_month as month
    from calendar
),

all_dates as (
    select snapshot_date, month from month_ends
    union all
    select snapshot_date, month from as_of
),

final as (
    select
        snapshot_date,
        month,
        snapshot_date = cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month')) }} as date)
            as is_month_end
    from all_dates
)

select * from final
