{#-
  Effective-dated history of a snapshot entity (exports.md "Snapshots are effective-dated").
  Every raw row is a version of its key, effective from its valid_from, else from its file's
  snapshot date (_snapshot_date; the landing date for batches written before that column existed).
  - Files are taken in order of snapshot date, then of landing (_loaded_at, then _batch_id).
  - A file restates what it says about a key: its rows replace every version of the key from
    earlier files effective on or after the earliest date this file gives the key.
  - Within one file, for one key and effective date, the latest row wins.
  Returns the surviving versions: every source column plus
    _effective_date  the date the version takes effect;
    _valid_from      the same, but date '1900-01-01' for the key's earliest version (what was first
                     known stands for the time before it);
    _valid_to        the next version's effective date (exclusive); NULL for the latest version.
  The state of a key on day d is the row where holds_on(...) is true: exactly one row per key.
  Portable SQL (window functions in subqueries, no QUALIFY): DuckDB, PostgreSQL, Spark.
-#}
{% macro effective_history(relation, key_column) -%}
select
    kept.*,
    case
        when row_number() over (partition by kept.{{ key_column }} order by kept._effective_date) = 1
            then cast('1900-01-01' as date)
        else kept._effective_date
    end as _valid_from,
    lead(kept._effective_date) over (
        partition by kept.{{ key_column }} order by kept._effective_date
    ) as _valid_to
from (
    select rows_by_date.*
    from (
        select
            versions.*,
            row_number() over (
                partition by versions.{{ key_column }}, versions._batch_id, versions._effective_date
                order by versions._row_number desc
            ) as _row_rank
        from (
            {{ _effective_versions(relation) }}
        ) as versions
    ) as rows_by_date
    inner join (
        -- One row per key and file: the earliest date any LATER file (in file order) gives the
        -- key. Versions of this file from that date on are restated by the later file.
        select
            key_files.{{ key_column }} as _restated_key,
            key_files._batch_id as _restated_batch_id,
            min(key_files._file_min_date) over (
                partition by key_files.{{ key_column }}
                order by key_files._file_date, key_files._loaded_at, key_files._batch_id
                rows between 1 following and unbounded following
            ) as _restated_from
        from (
            select
                versions.{{ key_column }},
                versions._batch_id,
                min(versions._file_date) as _file_date,
                min(versions._loaded_at) as _loaded_at,
                min(versions._effective_date) as _file_min_date
            from (
                {{ _effective_versions(relation) }}
            ) as versions
            group by versions.{{ key_column }}, versions._batch_id
        ) as key_files
    ) as restated
        on rows_by_date.{{ key_column }} = restated._restated_key
       and rows_by_date._batch_id = restated._restated_batch_id
    where rows_by_date._row_rank = 1
      and (restated._restated_from is null or rows_by_date._effective_date < restated._restated_from)
) as kept
{%- endmacro %}


{#- Every raw row with its file's snapshot date and its own effective date. -#}
{% macro _effective_versions(relation) -%}
select
    src.*,
    coalesce(src._snapshot_date, cast(src._loaded_at as date)) as _file_date,
    coalesce(src.valid_from, src._snapshot_date, cast(src._loaded_at as date)) as _effective_date
from {{ relation }} as src
{%- endmacro %}


{#- True when the interval row `alias` (valid_from inclusive, valid_to exclusive or NULL) holds on `day`. -#}
{% macro holds_on(alias, day) -%}
({{ alias }}.valid_from <= {{ day }} and ({{ alias }}.valid_to is null or {{ day }} < {{ alias }}.valid_to))
{%- endmacro %}
