-- Every version of every rep, effective-dated (exports.md "Snapshots are effective-dated"):
-- one row per rep_id and validity interval [valid_from, valid_to).
with raw_reps as (
    select * from {{ source('raw', 'reps') }}
),

versions as (
    {{ effective_history('raw_reps', 'rep_id') }}
),

final as (
    select
        rep_id,
        rep_name,
        team_id,
        manager_rep_id,
        region,
        hire_date,
        end_date,
        status,
        _effective_date as effective_date,
        _valid_from as valid_from,
        _valid_to as valid_to,
        _batch_id
    from versions
)

select * from final
