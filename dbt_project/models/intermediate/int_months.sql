-- The month spine of every zero-filled mart: each month from the first month of data to the
-- as_of month (marts.md "Month spines"). Portable: dbt's generate_series, no engine-specific
-- series function; 1200 months (100 years) is far more history than any sales data set holds.
with calendar as (
    select first_month, as_of_month from {{ ref('int_calendar') }}
),

month_offsets as (
    {{ dbt.generate_series(1200) }}
),

final as (
    select cast({{ dbt.dateadd('month', 'month_offsets.generated_number - 1', 'calendar.first_month') }} as date) as month
    from calendar
    cross join month_offsets
    where
        month_offsets.generated_number - 1
        <= {{ dbt.datediff('calendar.first_month', 'calendar.as_of_month', 'month') }}
)

select * from final
