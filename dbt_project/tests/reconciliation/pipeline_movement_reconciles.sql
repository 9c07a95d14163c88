-- The pipeline waterfall reconciles for every (month, team) (marts.md
-- mart_pipeline_movement_monthly): open_end = open_start + new + increased - decreased - won - lost
-- + moved_in - moved_out + other_in - other_out for amounts, the same without the amount changes
-- for counts. A gap means a deal was counted in two ways or in none, so the monthly review
-- explains a pipeline change that did not happen. Returns the rows that do not add up.
with movement as (
    select * from {{ ref('mart_pipeline_movement_monthly') }}
),

expected as (
    select
        month,
        team_id,
        open_end_count,
        open_start_count + new_count - won_count - lost_count + moved_in_count - moved_out_count
            + other_in_count - other_out_count as expected_end_count,
        open_end_amount,
        open_start_amount + new_amount + amount_increased - amount_decreased - won_amount - lost_amount
            + moved_in_amount - moved_out_amount + other_in_amount - other_out_amount as expected_end_amount
    from movement
)

select *
from expected
where open_end_count <> expected_end_count
   or open_end_amount <> expected_end_amount
