-- Activity facts per rep and month of occurred_at (the activity's own rep_id): calls, visits,
-- meetings and demos in any direction, outbound e-mails sent, inbound e-mails and how fast they
-- were answered (responded_at - occurred_at, in hours).
-- A table (a few rows per rep and month), built once per run: int_rep_monthly reads it twice and
-- its tests once each, and as a view each read would redo the work from the staging rows up.
{{ config(materialized='table') }}

with activities as (
    select
        rep_id,
        activity_type,
        direction,
        occurred_at,
        responded_at,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as month
    from {{ ref('stg_activities') }}
),

final as (
    select
        rep_id,
        month,
        cast(sum(case when activity_type = 'call' then 1 else 0 end) as {{ dbt.type_bigint() }}) as calls,
        cast(sum(case when activity_type = 'visit' then 1 else 0 end) as {{ dbt.type_bigint() }}) as visits,
        cast(sum(case when activity_type = 'meeting' then 1 else 0 end) as {{ dbt.type_bigint() }}) as meetings,
        cast(sum(case when activity_type = 'demo' then 1 else 0 end) as {{ dbt.type_bigint() }}) as demos,
        cast(
            sum(case when activity_type = 'email' and direction = 'outbound' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as emails_sent,
        cast(
            sum(case when activity_type = 'email' and direction = 'inbound' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as inbound_emails,
        cast(sum(case
            when activity_type = 'email' and direction = 'inbound' and responded_at is not null
                then 1
            else 0
        end) as {{ dbt.type_bigint() }}) as inbound_emails_answered,
        -- seconds / 3600 keeps fractions of an hour (a datediff in hours counts boundaries crossed)
        cast(coalesce(sum(case
            when activity_type = 'email' and direction = 'inbound' and responded_at is not null
                then {{ dbt.datediff('occurred_at', 'responded_at', 'second') }}
        end), 0) as {{ type_double() }}) / 3600 as email_response_hours_total
    from activities
    group by rep_id, month
)

select * from final
