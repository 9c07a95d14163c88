{#-
  Latest version per key, the staging rule of exports.md:
  - event entities (E): a key seen again is a newer version; latest file wins, then latest row.
  - snapshot entities (S): each new file replaces the current state, so only the newest file of
    each source profile counts, in order of snapshot date then landing ("Snapshots are
    effective-dated"; a batch from before _snapshot_date: its landing day). Within it, per key,
    the row with the greatest effective date (`effective_date`, e.g. valid_from, else the file's
    snapshot date), then the latest row.
  Portable SQL (window function in a subquery, no QUALIFY) so it runs on DuckDB, PostgreSQL, Spark.
-#}
{% macro latest_version(relation, key_columns, kind, effective_date=none) -%}
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
