-- The floor: marts.mart_rep_kpi_monthly and marts.dim_customers computed by one plain DuckDB
-- script straight from the canonical exports, with the definitions of ../shared/spec/marts.md and
-- the same types as the marts. It does only what these two marts need: no raw zone, no lineage,
-- no versions, no quarantine, no checks, no other marts. It assumes clean exports (what
-- `salesdw generate` writes without --dirty): every row valid. Reps and accounts are read as
-- effective-dated histories (exports.md): an order without rep_id goes to the account's owner on
-- the order date, a rep row of month m carries the rep's team and region on the month's last day,
-- dim_customers the owner and team on as_of_date (marts.md "Point in time"); a deal is its latest
-- version (the generator writes a deal's versions in updated_at order). The benchmark
-- checks that its results equal the pipeline's, row for row.
--
-- Inputs (DuckDB variables, set by bench/floor.py or by hand in the duckdb CLI):
--   exports       the export folder: <exports>/<entity>/*.csv
--   targets_files list of CSV files of the targets (bench/floor.py converts an .xlsx workbook)
--   seeds         the dbt seeds folder (opportunity_stages.csv, lifecycle_actions.csv)
-- Outputs: tables rep_kpi_monthly and dim_customers.

-- Exports, read once with their contract types ------------------------------------------------
create or replace temp table orders as
select * from read_csv(getvariable('exports') || '/orders/*.csv', header = true, auto_detect = false,
    columns = {'order_id': 'VARCHAR', 'account_id': 'VARCHAR', 'rep_id': 'VARCHAR', 'opportunity_id': 'VARCHAR',
               'order_date': 'DATE', 'status': 'VARCHAR', 'channel': 'VARCHAR', 'currency': 'VARCHAR'});

-- Effective-dated snapshots (exports.md "Snapshots are effective-dated"). A file's snapshot date is
-- the one in its name (reps_YYYY-MM-DD.csv), else the day it landed: after every business date of
-- the exports (9999-12-31 here). Files are taken in order of snapshot date, then name (landing
-- order). Each row is effective from its valid_from, else its file's snapshot date. A file restates
-- a key from the earliest date it gives that key: versions of that key from earlier files effective
-- on or after it are dropped; per key and effective date the last row wins. `restated` applies
-- these rules to a table of rows carrying key, effective_date, file_rank and row_rank.
create or replace temp macro restated(snapshot_rows) as table
with file_starts as (
    select key, file_rank, min(effective_date) as file_start
    from query_table(snapshot_rows) group by key, file_rank
),
cutoffs as (
    select key, file_rank,
           min(file_start) over (partition by key order by file_rank
                                 rows between 1 following and unbounded following) as restated_from
    from file_starts
)
select snapshot_rows.*
from query_table(snapshot_rows) as snapshot_rows
inner join cutoffs using (key, file_rank)
where cutoffs.restated_from is null or snapshot_rows.effective_date < cutoffs.restated_from
qualify row_number() over (partition by snapshot_rows.key, snapshot_rows.effective_date
                           order by snapshot_rows.file_rank desc, snapshot_rows.row_rank desc) = 1;

-- The state of a key on day d: its version with the greatest effective date <= d; before its
-- earliest version, that earliest version. As spans [span_start, span_end) covering every day.
create or replace temp macro spans(versions) as table
select *,
       case when row_number() over (partition by key order by effective_date) = 1 then date '0001-01-01'
            else effective_date end as span_start,
       coalesce(lead(effective_date) over (partition by key order by effective_date), date '9999-12-31')
           as span_end
from query_table(versions);

create or replace temp table account_rows as
with files as (
    select *, row_number() over () as row_rank
    from read_csv(getvariable('exports') || '/accounts/*.csv', header = true, auto_detect = false, filename = true,
        columns = {'account_id': 'VARCHAR', 'account_name': 'VARCHAR', 'industry': 'VARCHAR', 'region': 'VARCHAR',
                   'city': 'VARCHAR', 'owner_rep_id': 'VARCHAR', 'created_at': 'TIMESTAMP', 'lead_source': 'VARCHAR',
                   'valid_from': 'DATE'})
)
select *, account_id as key, coalesce(valid_from, date '9999-12-31') as effective_date,
       dense_rank() over (order by filename) as file_rank
from files;

create or replace temp table account_versions as select * from restated('account_rows');
create or replace temp table account_spans as select * from spans('account_versions');

-- the current state: the newest file's rows, per account the one with the greatest effective date
create or replace temp table accounts as
select * exclude (valid_from, filename, row_rank, key, effective_date, file_rank)
from account_rows
where file_rank = (select max(file_rank) from account_rows)
qualify row_number() over (partition by account_id order by effective_date desc, row_rank desc) = 1;

create or replace temp table opportunities as
select opps.*, stages.is_closed, stages.is_won
from read_csv(getvariable('exports') || '/opportunities/*.csv', header = true, auto_detect = false,
    columns = {'opportunity_id': 'VARCHAR', 'owner_rep_id': 'VARCHAR', 'stage': 'VARCHAR', 'account_id': 'VARCHAR',
               'lead_id': 'VARCHAR', 'product_id': 'VARCHAR', 'created_at': 'TIMESTAMP', 'close_date': 'DATE',
               'amount': 'DECIMAL(18,2)', 'currency': 'VARCHAR', 'lost_reason': 'VARCHAR',
               'updated_at': 'TIMESTAMP'}) as opps
left join read_csv(getvariable('seeds') || '/opportunity_stages.csv', header = true) as stages
    on opps.stage = stages.stage
qualify row_number() over (partition by opps.opportunity_id order by opps.updated_at desc) = 1;

create or replace temp table activities as
select * from read_csv(getvariable('exports') || '/activities/*.csv', header = true, auto_detect = false,
    columns = {'activity_id': 'VARCHAR', 'rep_id': 'VARCHAR', 'account_id': 'VARCHAR', 'opportunity_id': 'VARCHAR',
               'activity_type': 'VARCHAR', 'direction': 'VARCHAR', 'occurred_at': 'TIMESTAMP',
               'responded_at': 'TIMESTAMP', 'duration_minutes': 'INTEGER', 'outcome': 'VARCHAR'});

create or replace temp table survey_responses as
select * from read_csv(getvariable('exports') || '/survey_responses/*.csv', header = true, auto_detect = false,
    columns = {'response_id': 'VARCHAR', 'survey_type': 'VARCHAR', 'submitted_at': 'TIMESTAMP', 'score': 'INTEGER',
               'account_id': 'VARCHAR', 'contact_id': 'VARCHAR', 'order_id': 'VARCHAR', 'case_id': 'VARCHAR',
               'comment': 'VARCHAR'});

create or replace temp table rep_rows as
with files as (
    select *, row_number() over () as row_rank,
           coalesce(cast(nullif(regexp_extract(filename, 'reps_(\d{4}-\d{2}-\d{2})\.csv$', 1), '') as date),
                    date '9999-12-31') as snapshot_date
    from read_csv(getvariable('exports') || '/reps/*.csv', header = true, auto_detect = false, filename = true,
        columns = {'rep_id': 'VARCHAR', 'rep_name': 'VARCHAR', 'email': 'VARCHAR', 'team_id': 'VARCHAR',
                   'manager_rep_id': 'VARCHAR', 'region': 'VARCHAR', 'hire_date': 'DATE', 'end_date': 'DATE',
                   'status': 'VARCHAR', 'valid_from': 'DATE'})
)
select files.*, teams.region as team_region, files.rep_id as key,
       coalesce(files.valid_from, files.snapshot_date) as effective_date,
       dense_rank() over (order by snapshot_date, filename) as file_rank
from files
-- the region of a rep without one is the team's (teams arrive as one undated snapshot)
left join (select * from read_csv(getvariable('exports') || '/teams/*.csv', header = true, auto_detect = false,
    columns = {'team_id': 'VARCHAR', 'team_name': 'VARCHAR', 'region': 'VARCHAR', 'manager_rep_id': 'VARCHAR',
               'valid_from': 'DATE'})
    qualify row_number() over (partition by team_id order by valid_from desc nulls last) = 1) as teams
    on files.team_id = teams.team_id;

create or replace temp table rep_versions as select * from restated('rep_rows');
create or replace temp table rep_spans as
select *, coalesce(region, team_region) as rep_region from spans('rep_versions');

-- the current state (name, employment span): the newest file's rows, per rep the latest effective
create or replace temp table reps as
select rep_id, rep_name, team_id, hire_date, end_date
from rep_rows
where file_rank = (select max(file_rank) from rep_rows)
qualify row_number() over (partition by rep_id order by effective_date desc, row_rank desc) = 1;

-- as_of_date: the latest business event; the first month of data: the earliest (marts.md) -------
create or replace temp table calendar as
with event_dates as (
    select order_date as d from orders
    union all select cast(created_at as date) from opportunities
    union all select cast(updated_at as date) from opportunities
    union all select close_date from opportunities where is_closed
    union all select cast(entered_at as date)
        from read_csv(getvariable('exports') || '/opportunity_stage_history/*.csv', header = true,
                      auto_detect = false,
                      columns = {'opportunity_id': 'VARCHAR', 'stage': 'VARCHAR', 'entered_at': 'TIMESTAMP',
                                 'amount': 'DECIMAL(18,2)', 'close_date': 'DATE'})
    union all select cast(occurred_at as date) from activities
    union all select cast(submitted_at as date) from survey_responses
)
select
    max(d) as as_of_date,
    cast(date_trunc('month', max(d)) as date) as as_of_month,
    cast(date_trunc('month', min(d)) as date) as first_month,
    cast(max(d) + 1 as timestamp) as now_ts
from event_dates;

-- Completed orders with their net amount (sum of line nets, each rounded to cents) and rep ----
create or replace temp table sales as
with line_totals as (
    select
        order_id,
        sum(cast(quantity * unit_price - coalesce(discount_amount, 0) as decimal(18, 2))) as net_amount,
        sum(quantity) as units
    from read_csv(getvariable('exports') || '/order_lines/*.csv', header = true, auto_detect = false,
        columns = {'order_id': 'VARCHAR', 'line_number': 'INTEGER', 'product_id': 'VARCHAR',
                   'quantity': 'DECIMAL(18,4)', 'unit_price': 'DECIMAL(18,4)', 'discount_amount': 'DECIMAL(18,2)'})
    group by order_id
)
select
    orders.order_id,
    orders.account_id,
    coalesce(orders.rep_id, owners.owner_rep_id) as rep_id,  -- else the account's owner on the order date
    orders.order_date,
    cast(date_trunc('month', orders.order_date) as date) as order_month,
    coalesce(line_totals.net_amount, 0) as net_amount,
    coalesce(line_totals.units, 0) as units
from orders
left join account_spans as owners
    on orders.account_id = owners.account_id
   and orders.order_date >= owners.span_start and orders.order_date < owners.span_end
left join line_totals on orders.order_id = line_totals.order_id
where orders.status = 'completed';

-- Refunds on completed orders, in the month of return_date, with the order's rep and account --
create or replace temp table refunds as
select sales.order_id, sales.account_id, sales.rep_id, returns.return_date, returns.refund_amount,
       cast(date_trunc('month', returns.return_date) as date) as return_month
from read_csv(getvariable('exports') || '/returns/*.csv', header = true, auto_detect = false,
    columns = {'return_id': 'VARCHAR', 'order_id': 'VARCHAR', 'line_number': 'INTEGER', 'return_date': 'DATE',
               'quantity': 'DECIMAL(18,4)', 'refund_amount': 'DECIMAL(18,2)', 'reason': 'VARCHAR'}) as returns
inner join sales on returns.order_id = sales.order_id;

-- mart_rep_kpi_monthly -------------------------------------------------------------------------
create or replace table rep_kpi_monthly as
with months as (
    select cast(unnest(generate_series(first_month, as_of_month, interval 1 month)) as date) as month
    from calendar
),

employment_months as (
    select reps.rep_id, months.month
    from reps
    cross join calendar
    inner join months
        on months.month >= greatest(coalesce(cast(date_trunc('month', reps.hire_date) as date), calendar.first_month),
                                    calendar.first_month)
       and months.month <= least(coalesce(cast(date_trunc('month', reps.end_date) as date), calendar.as_of_month),
                                 calendar.as_of_month)
),

first_orders as (
    -- the rep of the account's first completed order (arg_min_null: that rep may be NULL)
    select account_id, arg_min_null(rep_id, (order_date, order_id)) as rep_id, min(order_date) as order_date
    from sales
    group by account_id
),

sales_facts as (
    select rep_id, order_month as month, sum(net_amount) as gross_revenue, count(*) as orders_count,
           sum(units) as units_sold, count(distinct account_id) as active_customers,
           0 as refunds_amount, 0 as new_customers
    from sales where rep_id is not null group by all
    union all
    select rep_id, return_month, 0, 0, 0, 0, sum(refund_amount), 0
    from refunds where rep_id is not null group by all
    union all
    select rep_id, cast(date_trunc('month', order_date) as date), 0, 0, 0, 0, 0, count(*)
    from first_orders where rep_id is not null group by all
),

opportunity_facts as (
    select owner_rep_id as rep_id, cast(date_trunc('month', created_at) as date) as month,
           count(*) as opportunities_created, 0 as opportunities_won, 0 as opportunities_lost,
           0 as won_amount, 0 as sales_cycle_days_total, 0 as sales_cycle_deals
    from opportunities where owner_rep_id is not null and created_at is not null group by all
    union all
    select owner_rep_id, cast(date_trunc('month', close_date) as date), 0,
           count(*) filter (where is_won), count(*) filter (where not is_won),
           coalesce(sum(coalesce(amount, 0)) filter (where is_won), 0),
           coalesce(sum(date_diff('day', cast(created_at as date), close_date)) filter (where is_won), 0),
           count(created_at) filter (where is_won)
    from opportunities where owner_rep_id is not null and is_closed and close_date is not null group by all
),

activity_facts as (
    select
        rep_id,
        cast(date_trunc('month', occurred_at) as date) as month,
        count(*) filter (where activity_type = 'call') as calls,
        count(*) filter (where activity_type = 'visit') as visits,
        count(*) filter (where activity_type = 'meeting') as meetings,
        count(*) filter (where activity_type = 'demo') as demos,
        count(*) filter (where activity_type = 'email' and direction = 'outbound') as emails_sent,
        count(*) filter (where activity_type = 'email' and direction = 'inbound') as inbound_emails,
        count(responded_at) filter (where activity_type = 'email' and direction = 'inbound') as inbound_emails_answered,
        cast(coalesce(sum(date_diff('second', occurred_at, responded_at))
            filter (where activity_type = 'email' and direction = 'inbound'), 0) as double) / 3600
            as email_response_hours_total
    from activities
    group by all
),

survey_facts as (
    select
        rep_id,
        month,
        count(*) filter (where survey_type = 'nps') as nps_responses,
        count(*) filter (where survey_type = 'nps' and score >= 9) as nps_promoters,
        count(*) filter (where survey_type = 'nps' and score <= 6) as nps_detractors,
        count(*) filter (where survey_type = 'csat') as csat_responses,
        count(*) filter (where survey_type = 'csat' and score >= 4) as csat_satisfied
    from (
        -- a response belongs to its order's rep (else that account's owner on the order date), else
        -- to its account's owner on the submission date
        select
            case when orders.order_id is not null then coalesce(orders.rep_id, order_owners.owner_rep_id)
                 else response_owners.owner_rep_id end as rep_id,
            cast(date_trunc('month', responses.submitted_at) as date) as month,
            responses.survey_type,
            responses.score
        from survey_responses as responses
        left join orders on responses.order_id = orders.order_id
        left join account_spans as order_owners
            on orders.account_id = order_owners.account_id
           and orders.order_date >= order_owners.span_start and orders.order_date < order_owners.span_end
        left join account_spans as response_owners
            on responses.account_id = response_owners.account_id
           and cast(responses.submitted_at as date) >= response_owners.span_start
           and cast(responses.submitted_at as date) < response_owners.span_end
    ) as attributed
    where rep_id is not null
    group by rep_id, month
),

-- a complaint belongs to its account's owner on the day it was opened
complaint_facts as (
    select owners.owner_rep_id as rep_id, cast(date_trunc('month', cases.opened_at) as date) as month,
           count(*) as complaints_opened
    from read_csv(getvariable('exports') || '/cases/*.csv', header = true, auto_detect = false,
        columns = {'case_id': 'VARCHAR', 'account_id': 'VARCHAR', 'opened_at': 'TIMESTAMP', 'category': 'VARCHAR',
                   'severity': 'VARCHAR', 'channel': 'VARCHAR', 'owner_rep_id': 'VARCHAR',
                   'first_response_at': 'TIMESTAMP', 'resolved_at': 'TIMESTAMP', 'status': 'VARCHAR'}) as cases
    inner join account_spans as owners
        on cases.account_id = owners.account_id
       and cast(cases.opened_at as date) >= owners.span_start and cast(cases.opened_at as date) < owners.span_end
    where cases.category = 'complaint' and owners.owner_rep_id is not null
    group by all
),

rep_months as (
    select rep_id, month from employment_months
    union select rep_id, month from sales_facts
    union select rep_id, month from opportunity_facts
    union select rep_id, month from activity_facts
    union select rep_id, month from survey_facts
    union select rep_id, month from complaint_facts
),

sales_parts as (
    select rep_id, month, sum(gross_revenue) as gross_revenue, sum(refunds_amount) as refunds_amount,
           sum(orders_count) as orders_count, sum(units_sold) as units_sold,
           sum(active_customers) as active_customers, sum(new_customers) as new_customers
    from sales_facts group by all
),

opportunity_parts as (
    select rep_id, month, sum(opportunities_created) as opportunities_created,
           sum(opportunities_won) as opportunities_won, sum(opportunities_lost) as opportunities_lost,
           sum(won_amount) as won_amount, sum(sales_cycle_days_total) as sales_cycle_days_total,
           sum(sales_cycle_deals) as sales_cycle_deals
    from opportunity_facts group by all
),

targets as (
    select
        rep_id,
        cast(month || '-01' as date) as month,
        sum(target_value) filter (where metric = 'net_revenue') as revenue_target,
        sum(target_value) filter (where metric = 'new_customers') as new_customers_target,
        sum(target_value) filter (where metric = 'visits') as visits_target,
        sum(target_value) filter (where metric = 'csat_rate') as csat_target,
        sum(target_value) filter (where metric = 'nps') as nps_target
    from read_csv(getvariable('targets_files'), header = true, auto_detect = false,
        columns = {'month': 'VARCHAR', 'metric': 'VARCHAR', 'target_value': 'DECIMAL(18,2)', 'rep_id': 'VARCHAR',
                   'team_id': 'VARCHAR'})
    where rep_id is not null
    group by all
),

kpis as (
    select
        rep_months.month,
        rep_months.rep_id,
        reps.rep_name,
        rep_then.team_id,  -- the rep's team and region in the month: on its last day (as_of_date at most)
        rep_then.rep_region as region,
        coalesce(s.gross_revenue, 0) as gross_revenue,
        coalesce(s.refunds_amount, 0) as refunds_amount,
        coalesce(s.gross_revenue, 0) - coalesce(s.refunds_amount, 0) as net_revenue,
        coalesce(s.orders_count, 0) as orders_count,
        coalesce(s.units_sold, 0) as units_sold,
        coalesce(s.active_customers, 0) as active_customers,
        coalesce(s.new_customers, 0) as new_customers,
        coalesce(o.opportunities_created, 0) as opportunities_created,
        coalesce(o.opportunities_won, 0) as opportunities_won,
        coalesce(o.opportunities_lost, 0) as opportunities_lost,
        coalesce(o.opportunities_won, 0) + coalesce(o.opportunities_lost, 0) as opportunities_closed,
        coalesce(o.won_amount, 0) as won_amount,
        coalesce(o.sales_cycle_days_total, 0) as sales_cycle_days_total,
        coalesce(o.sales_cycle_deals, 0) as sales_cycle_deals,
        coalesce(a.calls, 0) as calls,
        coalesce(a.visits, 0) as visits,
        coalesce(a.meetings, 0) as meetings,
        coalesce(a.demos, 0) as demos,
        coalesce(a.emails_sent, 0) as emails_sent,
        coalesce(a.inbound_emails, 0) as inbound_emails,
        coalesce(a.inbound_emails_answered, 0) as inbound_emails_answered,
        coalesce(a.email_response_hours_total, 0) as email_response_hours_total,
        coalesce(v.nps_responses, 0) as nps_responses,
        coalesce(v.nps_promoters, 0) as nps_promoters,
        coalesce(v.nps_detractors, 0) as nps_detractors,
        coalesce(v.csat_responses, 0) as csat_responses,
        coalesce(v.csat_satisfied, 0) as csat_satisfied,
        coalesce(c.complaints_opened, 0) as complaints_opened,
        t.revenue_target,
        t.new_customers_target,
        t.visits_target,
        t.csat_target,
        t.nps_target
    from rep_months
    cross join calendar
    left join reps on rep_months.rep_id = reps.rep_id
    left join rep_spans as rep_then
        on rep_months.rep_id = rep_then.rep_id
       and least(last_day(rep_months.month), calendar.as_of_date) >= rep_then.span_start
       and least(last_day(rep_months.month), calendar.as_of_date) < rep_then.span_end
    left join sales_parts as s on rep_months.rep_id = s.rep_id and rep_months.month = s.month
    left join opportunity_parts as o on rep_months.rep_id = o.rep_id and rep_months.month = o.month
    left join activity_facts as a on rep_months.rep_id = a.rep_id and rep_months.month = a.month
    left join survey_facts as v on rep_months.rep_id = v.rep_id and rep_months.month = v.month
    left join complaint_facts as c on rep_months.rep_id = c.rep_id and rep_months.month = c.month
    left join targets as t on rep_months.rep_id = t.rep_id and rep_months.month = t.month
)

-- every ratio: double numerator / double denominator, NULL when the denominator is 0 or NULL
select
    k.month,
    k.rep_id,
    k.rep_name,
    k.team_id,
    k.region,
    cast(k.gross_revenue as decimal(18, 2)) as gross_revenue,
    cast(k.refunds_amount as decimal(18, 2)) as refunds_amount,
    cast(k.net_revenue as decimal(18, 2)) as net_revenue,
    cast(k.orders_count as bigint) as orders_count,
    cast(k.units_sold as decimal(18, 4)) as units_sold,
    cast(k.active_customers as bigint) as active_customers,
    cast(k.new_customers as bigint) as new_customers,
    cast(k.opportunities_created as bigint) as opportunities_created,
    cast(k.opportunities_won as bigint) as opportunities_won,
    cast(k.opportunities_lost as bigint) as opportunities_lost,
    cast(k.opportunities_closed as bigint) as opportunities_closed,
    cast(k.won_amount as decimal(18, 2)) as won_amount,
    cast(k.opportunities_won as double) / nullif(cast(k.opportunities_closed as double), 0) as win_rate,
    cast(cast(k.won_amount as double) / nullif(cast(k.opportunities_won as double), 0) as decimal(18, 2))
        as avg_deal_size,
    cast(k.sales_cycle_days_total as bigint) as sales_cycle_days_total,
    cast(k.sales_cycle_deals as bigint) as sales_cycle_deals,
    cast(k.sales_cycle_days_total as double) / nullif(cast(k.sales_cycle_deals as double), 0)
        as avg_sales_cycle_days,
    cast(k.calls as bigint) as calls,
    cast(k.visits as bigint) as visits,
    cast(k.meetings as bigint) as meetings,
    cast(k.demos as bigint) as demos,
    cast(k.emails_sent as bigint) as emails_sent,
    cast(k.inbound_emails as bigint) as inbound_emails,
    cast(k.inbound_emails_answered as bigint) as inbound_emails_answered,
    cast(k.email_response_hours_total as double) as email_response_hours_total,
    cast(k.email_response_hours_total as double) / nullif(cast(k.inbound_emails_answered as double), 0)
        as avg_email_response_hours,
    cast(k.nps_responses as bigint) as nps_responses,
    cast(k.nps_promoters as bigint) as nps_promoters,
    cast(k.nps_detractors as bigint) as nps_detractors,
    cast(k.nps_promoters - k.nps_detractors as double) / nullif(cast(k.nps_responses as double), 0) * 100 as nps,
    cast(k.csat_responses as bigint) as csat_responses,
    cast(k.csat_satisfied as bigint) as csat_satisfied,
    cast(k.csat_satisfied as double) / nullif(cast(k.csat_responses as double), 0) as csat_rate,
    cast(k.revenue_target as decimal(18, 2)) as revenue_target,
    cast(k.new_customers_target as decimal(18, 2)) as new_customers_target,
    cast(k.visits_target as decimal(18, 2)) as visits_target,
    cast(k.net_revenue as double) / nullif(cast(k.revenue_target as double), 0) as revenue_attainment,
    cast(k.new_customers as double) / nullif(cast(k.new_customers_target as double), 0) as new_customers_attainment,
    cast(k.visits as double) / nullif(cast(k.visits_target as double), 0) as visits_attainment,
    cast(k.complaints_opened as bigint) as complaints_opened,
    cast(k.complaints_opened as double) / nullif(cast(k.orders_count as double), 0) * 100 as complaints_per_100_orders,
    cast(k.refunds_amount as double) / nullif(cast(k.gross_revenue as double), 0) as refund_rate,
    cast(k.csat_target as decimal(18, 2)) as csat_target,
    cast(k.csat_satisfied as double) / nullif(cast(k.csat_responses as double), 0)
        / nullif(cast(k.csat_target as double), 0) as csat_attainment,
    cast(k.nps_target as decimal(18, 2)) as nps_target,
    cast(k.nps_promoters - k.nps_detractors as double) / nullif(cast(k.nps_responses as double), 0) * 100
        - cast(k.nps_target as double) as nps_gap,
    cast(prev_month.net_revenue as decimal(18, 2)) as net_revenue_prev_month,
    cast(k.net_revenue as double) / nullif(cast(prev_month.net_revenue as double), 0) - 1 as revenue_growth_mom,
    cast(prev_year.net_revenue as decimal(18, 2)) as net_revenue_prev_year,
    cast(k.net_revenue as double) / nullif(cast(prev_year.net_revenue as double), 0) - 1 as revenue_growth_yoy
from kpis as k
left join kpis as prev_month
    on k.rep_id = prev_month.rep_id and prev_month.month = cast(k.month - interval 1 month as date)
left join kpis as prev_year
    on k.rep_id = prev_year.rep_id and prev_year.month = cast(k.month - interval 12 month as date);

-- dim_customers --------------------------------------------------------------------------------
create or replace table dim_customers as
with order_history as (
    -- completed orders up to as_of, their refunds dated up to as_of subtracted
    select
        sales.account_id,
        sales.order_date,
        sales.net_amount - coalesce(refunded.amount, 0) as net_amount
    from sales
    cross join calendar
    left join (
        select refunds.order_id, sum(refunds.refund_amount) as amount
        from refunds cross join calendar
        where refunds.return_date <= calendar.as_of_date
        group by refunds.order_id
    ) as refunded on sales.order_id = refunded.order_id
    where sales.order_date <= calendar.as_of_date
),

customer_orders as (
    select
        order_history.account_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as lifetime_orders,
        sum(net_amount) as lifetime_net_revenue,
        count(*) filter (where order_date > calendar.as_of_date - 365) as orders_365d,
        coalesce(sum(net_amount) filter (where order_date > calendar.as_of_date - 365), 0) as net_revenue_365d,
        date_diff('day', max(order_date), any_value(calendar.as_of_date)) as recency_days,
        date_diff('day', min(order_date), any_value(calendar.as_of_date)) as days_since_first_order
    from order_history
    cross join calendar
    where order_history.account_id in (select account_id from accounts)
    group by order_history.account_id
),

scored as (
    select
        *,
        ntile(5) over (order by recency_days desc, account_id) as r_score,
        ntile(5) over (order by lifetime_orders, account_id) as f_score,
        ntile(5) over (order by lifetime_net_revenue, account_id) as m_score
    from customer_orders
),

vip_ranking as (
    select
        account_id,
        row_number() over (order by net_revenue_365d desc, account_id) as vip_rank,
        ceiling(count(*) over () * cast(getvariable('vip_share') as decimal(9, 6))) as vip_slots
    from customer_orders
    where net_revenue_365d > 0
),

cases as (
    select * from read_csv(getvariable('exports') || '/cases/*.csv', header = true, auto_detect = false,
        columns = {'case_id': 'VARCHAR', 'account_id': 'VARCHAR', 'opened_at': 'TIMESTAMP', 'category': 'VARCHAR',
                   'severity': 'VARCHAR', 'channel': 'VARCHAR', 'owner_rep_id': 'VARCHAR',
                   'first_response_at': 'TIMESTAMP', 'resolved_at': 'TIMESTAMP', 'status': 'VARCHAR'})
),

latest_nps as (
    -- a response belongs to its account, else to the account of its order, contact or case
    select account_id, arg_max(score, (submitted_at, response_id)) as score
    from (
        select
            coalesce(responses.account_id, orders.account_id, contacts.account_id, cases.account_id) as account_id,
            responses.response_id,
            responses.submitted_at,
            responses.score
        from survey_responses as responses
        cross join calendar
        left join orders on responses.order_id = orders.order_id
        left join read_csv(getvariable('exports') || '/contacts/*.csv', header = true, auto_detect = false,
            columns = {'contact_id': 'VARCHAR', 'account_id': 'VARCHAR', 'full_name': 'VARCHAR', 'email': 'VARCHAR',
                       'phone': 'VARCHAR', 'title': 'VARCHAR', 'created_at': 'TIMESTAMP'}) as contacts
            on responses.contact_id = contacts.contact_id
        left join cases on responses.case_id = cases.case_id
        where responses.survey_type = 'nps' and responses.submitted_at < calendar.now_ts
    ) as nps_responses
    where account_id is not null
    group by account_id
),

open_cases as (
    select cases.account_id, count(*) as open_cases
    from cases cross join calendar
    where cases.opened_at < calendar.now_ts and (cases.resolved_at is null or cases.resolved_at >= calendar.now_ts)
    group by cases.account_id
),

touches as (
    -- the customer's sales touches up to as_of (marts.md "The customer-treatment loop"); an
    -- activity without an account touches no customer
    select
        activities.account_id,
        max(cast(activities.occurred_at as date)) as last_activity_date,
        max(cast(activities.occurred_at as date)) filter (where activities.activity_type = 'visit') as last_visit_date,
        count(*) filter (where cast(activities.occurred_at as date) > calendar.as_of_date - 90) as activities_90d,
        count(*) filter (where activities.activity_type = 'visit'
                           and cast(activities.occurred_at as date) > calendar.as_of_date - 90) as visits_90d
    from activities cross join calendar
    where activities.account_id is not null and activities.occurred_at < calendar.now_ts
    group by activities.account_id
),

staged as (
    select
        accounts.*,
        customer_orders.first_order_date,
        customer_orders.last_order_date,
        coalesce(customer_orders.lifetime_orders, 0) as lifetime_orders,
        coalesce(customer_orders.lifetime_net_revenue, 0) as lifetime_net_revenue,
        coalesce(customer_orders.orders_365d, 0) as orders_365d,
        coalesce(customer_orders.net_revenue_365d, 0) as net_revenue_365d,
        customer_orders.recency_days,
        customer_orders.days_since_first_order,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        vip_ranking.vip_rank,
        vip_ranking.vip_slots
    from accounts
    left join customer_orders on accounts.account_id = customer_orders.account_id
    left join scored on accounts.account_id = scored.account_id
    left join vip_ranking on accounts.account_id = vip_ranking.account_id
),

staged_stage as (
    select
        staged.*,
        case
            when first_order_date is null then 'prospect'
            when recency_days > getvariable('inactive_days') then 'inactive'
            when vip_rank <= vip_slots then 'vip'
            when days_since_first_order < getvariable('new_days') then 'new'
            when orders_365d >= getvariable('loyal_orders_365d') then 'loyal'
            else 'active'
        end as lifecycle_stage
    from staged
)

select
    s.account_id,
    s.account_name,
    s.industry,
    s.region,
    s.city,
    owner_now.owner_rep_id,  -- the present: the owner and the owner's team on as_of_date
    team_now.team_id,
    cast(s.created_at as date) as created_date,
    s.first_order_date,
    s.last_order_date,
    cast(s.lifetime_orders as integer) as lifetime_orders,
    cast(s.lifetime_net_revenue as decimal(18, 2)) as lifetime_net_revenue,
    cast(s.orders_365d as integer) as orders_365d,
    cast(s.net_revenue_365d as decimal(18, 2)) as net_revenue_365d,
    cast(s.recency_days as integer) as recency_days,
    cast(s.r_score as integer) as r_score,
    cast(s.f_score as integer) as f_score,
    cast(s.m_score as integer) as m_score,
    cast(s.r_score as varchar) || cast(s.f_score as varchar) || cast(s.m_score as varchar) as rfm_code,
    s.lifecycle_stage,
    actions.recommended_action,
    cast(latest_nps.score as integer) as latest_nps_score,
    cast(coalesce(open_cases.open_cases, 0) as integer) as open_cases,
    touches.last_activity_date,
    touches.last_visit_date,
    cast(coalesce(touches.activities_90d, 0) as integer) as activities_90d,
    cast(coalesce(touches.visits_90d, 0) as integer) as visits_90d,
    cast(date_diff('day', touches.last_activity_date, calendar.as_of_date) as integer) as days_since_last_touch
from staged_stage as s
cross join calendar
left join account_spans as owner_now
    on s.account_id = owner_now.account_id
   and calendar.as_of_date >= owner_now.span_start and calendar.as_of_date < owner_now.span_end
left join rep_spans as team_now
    on owner_now.owner_rep_id = team_now.rep_id
   and calendar.as_of_date >= team_now.span_start and calendar.as_of_date < team_now.span_end
left join read_csv(getvariable('seeds') || '/lifecycle_actions.csv', header = true) as actions
    on s.lifecycle_stage = actions.lifecycle_stage
left join latest_nps on s.account_id = latest_nps.account_id
left join open_cases on s.account_id = open_cases.account_id
left join touches on s.account_id = touches.account_id;
