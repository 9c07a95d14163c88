-- Budget against actual spend per month, team and category (marts.md mart_budget_vs_actual):
-- every (month, team, category) with a budget or an expense, the missing side 0; year-to-date
-- sums run from the fiscal year's first month (var fiscal_year_start_month).
with budgets as (
    select month, team_id, category, sum(budget_amount) as budget_amount
    from {{ ref('stg_budgets') }}
    group by month, team_id, category
),

actuals as (
    select
        cast({{ dbt.date_trunc('month', 'expense_date') }} as date) as month,
        team_id,
        category,
        sum(amount) as actual_amount
    from {{ ref('stg_expenses') }}
    group by cast({{ dbt.date_trunc('month', 'expense_date') }} as date), team_id, category
),

budget_lines as (
    select month, team_id, category from budgets
    union
    select month, team_id, category from actuals
),

monthly as (
    select
        budget_lines.month,
        budget_lines.team_id,
        budget_lines.category,
        -- a fiscal year is named by the calendar year in which it starts
        extract(year from budget_lines.month)
        - case when extract(month from budget_lines.month) < {{ var('fiscal_year_start_month') }} then 1 else 0 end
            as fiscal_year,
        coalesce(budgets.budget_amount, 0) as budget_amount,
        coalesce(actuals.actual_amount, 0) as actual_amount
    from budget_lines
    left join budgets
        on
            budget_lines.month = budgets.month
            and budget_lines.team_id = budgets.team_id
            and budget_lines.category = budgets.category
    left join actuals
        on
            budget_lines.month = actuals.month
            and budget_lines.team_id = actuals.team_id
            and budget_lines.category = actuals.category
),

year_to_date as (
    -- months without a row have neither budget nor spend, so summing the rows present is exact
    select
        monthly.*,
        sum(monthly.budget_amount) over (
            partition by monthly.team_id, monthly.category, monthly.fiscal_year order by monthly.month
            rows between unbounded preceding and current row
        ) as ytd_budget,
        sum(monthly.actual_amount) over (
            partition by monthly.team_id, monthly.category, monthly.fiscal_year order by monthly.month
            rows between unbounded preceding and current row
        ) as ytd_actual
    from monthly
),

final as (
    select
        month,
        team_id,
        category,
        cast(budget_amount as decimal(18, 2)) as budget_amount,
        cast(actual_amount as decimal(18, 2)) as actual_amount,
        cast(actual_amount - budget_amount as decimal(18, 2)) as variance,
        {{ safe_divide('actual_amount - budget_amount', 'budget_amount') }} as variance_pct,
        {{ safe_divide('actual_amount', 'budget_amount') }} as utilization,
        cast(ytd_budget as decimal(18, 2)) as ytd_budget,
        cast(ytd_actual as decimal(18, 2)) as ytd_actual,
        cast(ytd_actual - ytd_budget as decimal(18, 2)) as ytd_variance,
        actual_amount > budget_amount * (1 + {{ var('budget_tolerance') }}) as is_over_budget
    from year_to_date
)

select * from final
