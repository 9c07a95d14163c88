{#-
  Latest version per key, the staging rule of exports.md:
  - event entities (E): a key seen again is a newer version; latest file wins, then latest row.
  - snapshot entities (S): each new file replaces the current state, so only the newest file of
    each source profile counts, in order of snapshot date then landing ("Snapshots are
    effective-dated"; a batch from before _snapshot_date: its landing day). Within it, per key,
    the row with the greatest effective date (`effective_date`, e.g. valid_from, else the file's
    snapshot date), then the latest row.
  Portable SQL (window function in a subquery, no QUALIFY) so it runs on DuckDB, PostgreSQL, Spark.

  Events take a shortcut: most keys are seen once (an export is re-sent only for the rows that
  changed), and ranking every row costs the largest staging models a sort of millions of rows.
  Keys seen once pass as they are; only the repeated ones are ranked. The same rows as ranking
  all of them, because an event key is required at ingest (never NULL: the anti and semi joins
  below compare keys with `=`). At scale 50 it cut stg_activities' query from 5.0 to 3.5 CPU s
  and stg_order_lines' from 4.9 to 3.7 (DuckDB, 2 threads).
-#}
{% macro latest_version(relation, key_columns, kind, effective_date=none) -%}
{%- if kind == 'E' and not effective_date -%}
{{ _latest_event_version(relation, key_columns) }}
{%- else -%}
{{ _latest_version_ranked(relation, key_columns, kind, effective_date) }}
{%- endif -%}
{%- endmacro %}

{% macro _latest_event_version(relation, key_columns) -%}
{%- set same_key %}
{%- for key in key_columns %}{% if not loop.first %} and {% endif %}repeated.{{ key }} = src.{{ key }}{% endfor -%}
{% endset -%}
select * from (
    with repeated as (
        select {{ key_columns | join(', ') }}
        from {{ relation }}
        group by {{ key_columns | join(', ') }}
        having count(*) > 1
    )

    select src.*, cast(1 as bigint) as _version_rank
    from {{ relation }} as src
    where not exists (select 1 from repeated where {{ same_key }})
    union all
    select * from (
        select
            src.*,
            row_number() over (
                partition by {% for key in key_columns %}{% if not loop.first %}, {% endif %}src.{{ key }}{% endfor %}
                order by src._loaded_at desc, src._batch_id desc, src._row_number desc
            ) as _version_rank
        from {{ relation }} as src
        where exists (select 1 from repeated where {{ same_key }})
    ) as ranked
    where _version_rank = 1
) as versions
{%- endmacro %}

{% macro _latest_version_ranked(relation, key_columns, kind, effective_date) -%}
select * from (
    select
        src.*,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by
                {%- if effective_date %} coalesce(src.{{ effective_date }}, src._snapshot_date, cast(src._loaded_at as date)) desc,{% endif %}
                src._loaded_at desc, src._batch_id desc, src._row_number desc
        ) as _version_rank
    from {{ relation }} as src
    {%- if kind == 'S' %}
    inner join (
        select _profile as _latest_profile, _batch_id as _latest_batch_id
        from (
            select
                _profile,
                _batch_id,
                row_number() over (
                    partition by _profile
                    order by coalesce(_snapshot_date, cast(_loaded_at as date)) desc, _loaded_at desc, _batch_id desc
                ) as _batch_rank
            from (select distinct _profile, _batch_id, _snapshot_date, _loaded_at from {{ relation }}) as batches
        ) as ranked_batches
        where _batch_rank = 1
    ) as latest_batch
        on src._profile = latest_batch._latest_profile
       and src._batch_id = latest_batch._latest_batch_id
    {%- endif %}
) as versions
where _version_rank = 1
{%- endmacro %}
