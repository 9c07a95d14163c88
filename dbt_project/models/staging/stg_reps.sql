-- Sales reps, their team and employment dates.
-- Snapshot entity: the newest file per source profile is the current state.
with versions as (
    {{ latest_version(source('raw', 'reps'), ['rep_id'], 'S', effective_date='valid_from') }}
),

final as (
    select
        rep_id,
        rep_name,
        email,
        team_id,
        manager_rep_id,
        region,
        hire_date,
        end_date,
        status,
        _batch_id,
        _loaded_at
    from versions
)

select * from final
