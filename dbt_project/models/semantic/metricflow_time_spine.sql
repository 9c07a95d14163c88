-- The day spine MetricFlow joins metric_time to (dbt semantic layer "time spine"): every day
-- from the first month of data through the last forecast month, so cumulative and zero-filled
-- metrics have a row for each day. Portable: dbt's generate_series, as int_months.
with calendar as (
    select first_month, as_of_month from {{ ref('int_calendar') }}
),

day_offsets as (
    {{ dbt.generate_series(7400) }}
),

days as (
    select
        cast({{ dbt.dateadd('day', 'day_offsets.generated_number - 1', 'calendar.first_month') }} as date) as date_day,
        calendar.as_of_month
    from calendar
    cross join day_offsets
),

final as (
    -- through the end of the forecast horizon (as_of month + forecast_months_ahead)
    select date_day
    from days
    where date_day < {{ dbt.dateadd('month', var('forecast_months_ahead') + 1, 'as_of_month') }}
)

select * from final
