{#-
  Latest version per key, the staging rule of exports.md:
  - event entities (E): a key seen again is a newer version; latest file wins, then latest row.
  - snapshot entities (S): each new file replaces the current state, so only the newest batch of
    each source profile counts (then the latest row per key within it).
  Portable SQL (window function in a subquery, no QUALIFY) so it runs on DuckDB, PostgreSQL, Spark.
-#}
{% macro latest_version(relation, key_columns, kind) -%}
select * from (
    select
        src.*,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by src._loaded_at desc, src._batch_id desc, src._row_number desc
        ) as _version_rank
    from {{ relation }} as src
    {%- if kind == 'S' %}
    inner join (
        select _profile as _latest_profile, max(_loaded_at) as _latest_loaded_at
        from {{ relation }}
        group by _profile
    ) as latest_batch
        on src._profile = latest_batch._latest_profile
       and src._loaded_at = latest_batch._latest_loaded_at
    {%- endif %}
) as versions
where _version_rank = 1
{%- endmacro %}
