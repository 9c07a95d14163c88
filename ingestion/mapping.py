"""One SQL query per (file, entity): source text -> canonical typed columns + a quarantine reason.

The query is built from the profile's SourceSpec and the file's actual header, and DuckDB runs
it over the whole file in one pass (no Python row loops). Its output columns are:
    __row_number, <every canonical column, typed>, __reason (NULL = the row loads),
    __raw_record (the original source values as JSON, only where __reason is set)

Order of work per value: trim leading/trailing spaces -> empty or a declared null value becomes
NULL -> value map -> default -> parse to the canonical type. A non-empty value that does not
parse is never turned into NULL: the row is quarantined with a reason naming the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from ingestion.canonical import DATE, FUTURE_DATE_HORIZON_DAYS, INTEGER, TIMESTAMP, VARCHAR, Column, Entity
from ingestion.fx import currency_code_reason
from ingestion.profile import EXCEL_SERIAL, ColumnMapping, SourceSpec, quote_ident, quote_literal
from ingestion.readers import ROW_NUMBER, SourceTable

REASON = "__reason"
RAW_RECORD = "__raw_record"
_SHOWN_VALUE_CHARS = 80  # long values are cut in reasons (the full text is in raw_record)
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31
# Nothing a sales export records happened before Excel's day 1; an earlier date is a 2-digit year
# (`24-01-05` reads as year 24) or a typo, and one such row would stretch every month spine of
# the marts back to it.
EARLIEST_DATE = "1900-01-01"


class MappingError(Exception):
    """The file lacks columns the profile needs (the whole file is rejected)."""


@dataclass(frozen=True)
class ResolvedColumn:
    mapping: ColumnMapping | None  # None: no source, NULL
    header: str | None = None  # the file's actual header for a `column` mapping
    missing: tuple[str, ...] = ()  # source columns absent from the file (the column is then NULL)


def _find_header(name: str, headers: list[str]) -> str | None:
    if name in headers:
        return name
    wanted = name.strip().lower()
    matches = [h for h in headers if h.strip().lower() == wanted]
    return matches[0] if matches else None


def first_header(mapping: ColumnMapping, headers: list[str]) -> str | None:
    """The file's header for the mapping's column, else for its first fallback the file has."""
    for name in (mapping.column, *mapping.fallbacks):
        header = _find_header(name, headers)
        if header is not None:
            return header
    return None


def _plain_name(header: str) -> str:
    """`Amount (CNY)` / `Close Date` -> `amount` / `close_date`: how Excel and people rename columns."""
    without_unit = re.sub(r"[(\[（【].*?[)\]）】]", " ", header)
    return re.sub(r"[^0-9a-z]+", "_", without_unit.lower()).strip("_")


def _renamed_as(name: str, headers: list[str]) -> str | None:
    """The file's header that looks like canonical column `name` renamed, if exactly one does."""
    candidates = [h for h in headers if h.strip().lower() != name and _plain_name(h) == name]
    return candidates[0] if len(candidates) == 1 else None


def resolve(
    spec: SourceSpec, ent: Entity, headers: list[str], duplicated: frozenset[str] = frozenset()
) -> dict[str, ResolvedColumn]:
    """Bind each canonical column to the file's columns; MappingError names what is missing."""
    resolved: dict[str, ResolvedColumn] = {}
    missing: list[str] = []
    problems: list[str] = []
    for col in ent.columns:
        mapping = spec.columns.get(col.name)
        if mapping is None and spec.columns_by_name:
            resolved[col.name] = _resolve_by_name(col, headers, missing, problems)
            continue
        if mapping is None:
            resolved[col.name] = ResolvedColumn(None)
            continue
        header = None
        if mapping.column is not None:
            header = first_header(mapping, headers)
            if header is None:
                if not col.required:  # a Data Loader export with fewer fields: NULL, named in the ledger
                    resolved[col.name] = ResolvedColumn(None, missing=(mapping.column,))
                    continue
                if mapping.default is not None:  # the value an empty field gets stands for the field
                    resolved[col.name] = ResolvedColumn(
                        replace(mapping, column=None, const=mapping.default), missing=(mapping.column,)
                    )
                    continue
                missing.append(f"column {mapping.column!r} (mapped to {col.name})")
        absent = tuple(ref for ref in mapping.expr_columns if _find_header(ref, headers) is None)
        if absent and not col.required:
            resolved[col.name] = ResolvedColumn(None, missing=absent)
            continue
        missing.extend(f"column {ref!r} (used by the expression for {col.name})" for ref in absent)
        resolved[col.name] = ResolvedColumn(mapping, header)
    for ref in spec.filter_columns:
        if _find_header(ref, headers) is None:
            missing.append(f"column {ref!r} (used by the row filter)")
    problems += _repeated_headers(spec, resolved, duplicated)
    if missing:
        delimiters = [d for d in ";\t|," if len(headers) == 1 and d in headers[0]]
        hint = f" (the header is one column: is the delimiter {delimiters[0]!r}?)" if delimiters else ""
        problems.insert(0, "missing " + ", ".join(dict.fromkeys(missing)) + hint)
    if problems:
        raise MappingError("; ".join(problems))
    return resolved


def _resolve_by_name(col, headers: list[str], missing: list[str], problems: list[str]) -> ResolvedColumn:
    """A canonical column the profile reads by its own name (columns_by_name); adds to
    missing and problems what the file lacks."""
    header = _find_header(col.name, headers)
    renamed = _renamed_as(col.name, headers) if header is None else None
    if header is None and col.required:
        missing.append(f"required column {col.name!r}" + (f" (found {renamed!r}: renamed?)" if renamed else ""))
    elif renamed:
        # Reading NULL here would silently drop the column's values (e.g. every amount).
        problems.append(
            f"column {renamed!r} looks like {col.name!r} renamed: rename it back to {col.name!r} or map it in a profile"
        )
    return ResolvedColumn(
        ColumnMapping(col.name, column=col.name) if header else None,
        header,
        missing=() if header or col.required else (col.name,),
    )


def _repeated_headers(spec: SourceSpec, resolved: dict[str, ResolvedColumn], duplicated: frozenset[str]) -> list[str]:
    """A header the file repeats, among those read: which of its columns holds the values is
    anybody's guess."""
    used = (
        [r.header for r in resolved.values() if r.header]
        + [ref for m in spec.columns.values() for ref in m.expr_columns]
        + list(spec.filter_columns)
    )
    return [
        f"column {name!r} appears more than once in the header"
        for name in dict.fromkeys(u.strip().lower() for u in used)
        if name in duplicated
    ]


@dataclass(frozen=True)
class Horizon:
    """Dates later than `days` after `landed` (the day the file is ingested) are quarantined."""

    landed: date
    days: int = FUTURE_DATE_HORIZON_DAYS

    @property
    def last_day(self) -> date:
        return self.landed + timedelta(days=self.days)


def build_query(
    spec: SourceSpec, ent: Entity, source: SourceTable, reporting_currency: str, horizon: Horizon | None = None
) -> str:
    """horizon: default, the file landed today (UTC) and the default horizon."""
    horizon = horizon or Horizon(_utc_today())
    resolved = resolve(spec, ent, source.columns, source.duplicated)
    # Header names live beside internal ones only up to `selected`: those are lengthened to
    # differ from every header (a file may well have a `__row_number` column).
    prefix = _free_prefix("__o", source.columns)
    originals = [(quote_ident(f"{prefix}{i}"), h) for i, h in enumerate(source.columns)]
    orig_cols = ", ".join(alias for alias, _ in originals)
    orig_list = (", " + orig_cols) if originals else ""
    # The reader's facts about each row (its field count...), carried to the reason.
    carried = [c for c in (source.field_count, source.cut_short) if c] + [c for _, c in source.extra_fields]
    orig_list += "".join(", " + c for c in carried)

    cleaned = ", ".join(
        [source.row_number]
        + carried
        + [f"{quote_ident(h)} as {alias}" for alias, h in originals]
        + [f"{_clean(quote_ident(h), spec)} as {quote_ident(h)}" for h in source.columns]
    )
    where = ""
    if spec.filter:
        # a row whose values are shifted cannot be filtered on them: it is quarantined instead
        shifted = f" or {source.field_count} is not null" if source.field_count else ""
        where = f"where coalesce(cast(({spec.filter}) as boolean), false){shifted}"

    mapped_names = {c.name: quote_ident(f"__m_{c.name}") for c in ent.columns}
    mapped = ", ".join(
        [f"{source.row_number} as {ROW_NUMBER}{orig_list}"]
        + [
            f"{_identifier_text(c, _mapped_text(resolved[c.name], spec), _cleaned(resolved[c.name]))} "
            f"as {mapped_names[c.name]}"
            for c in ent.columns
        ]
    )
    dedupe = ""
    if spec.distinct:
        partition = ", ".join(mapped_names.values())
        dedupe = (
            f", deduped as (select * exclude (__dup) from (select *, row_number() over "
            f"(partition by {partition} order by {ROW_NUMBER}) as __dup from mapped) where __dup = 1)"
        )
    control = quote_ident(f"{prefix}control")
    typed = ", ".join(
        [ROW_NUMBER + orig_list]
        + list(mapped_names.values())
        + [
            f"{_typed(c, mapped_names[c.name], spec, resolved[c.name].mapping)} as {quote_ident(c.name)}"
            for c in ent.columns
        ]
        + [f"{_any_control_character(ent, mapped_names, resolved, source.control_free)} as {control}"]
    )
    reason, raw_json = _reason_and_record(ent, source, mapped_names, originals, horizon, control)
    canonical = ", ".join(quote_ident(c.name) for c in ent.columns)
    return (
        f"with cleaned as (select {cleaned} from {source.relation}), "
        f"selected as (select * from cleaned {where}), "
        f"mapped as (select {mapped} from selected){dedupe}, "
        f"typed as (select {typed} from {'deduped' if spec.distinct else 'mapped'}), "
        f"checked as (select *, {reason} as {REASON} from typed) "
        f"select {ROW_NUMBER}, {canonical}, {REASON}, "
        f"case when {REASON} is not null then {raw_json} end as {RAW_RECORD} from checked"
    )


def _reason_and_record(
    ent: Entity,
    source: SourceTable,
    mapped_names: dict[str, str],
    originals: list[tuple[str, str]],
    horizon: Horizon,
    control: str = "true",
) -> tuple[str, str]:
    """The SQL of a typed row's quarantine reason (NULL when it loads) and of its original text
    as a JSON object of the file's own headers. control: a column of `typed`, false where no text
    column of the row holds a control character (_any_control_character)."""
    reasons = [r for c in ent.columns for r in _column_reasons(c, mapped_names[c.name], horizon, control)]
    reasons += [_rule_reason(ent, sql, text) for sql, text in ent.rules]
    if "currency" in ent.column_names:
        reasons.append(currency_code_reason())
    reason = f"nullif(concat_ws('; ', {', '.join(reasons) or 'null'}), '')"
    raw_json = "json_object(" + ", ".join(f"{quote_literal(h)}, {alias}" for alias, h in originals) + ")"
    if source.field_count:
        # A row with a field too many or too few: its values sit under the wrong columns, so the
        # other reasons would only describe the shift.
        reason = f"coalesce({_field_count_reason(source)}, {reason})"
        # the fields beyond the header's, as many as the row has (a merge patch skips NULLs)
        extras = ", ".join(f"{quote_literal(name)}, {c}" for name, c in source.extra_fields)
        raw_json = (
            f"case when {source.field_count} is null then {raw_json} "
            f"else json_merge_patch({raw_json}, json_object({extras})) end"
        )
    return reason, raw_json


def column_snapshot_date(con, spec: SourceSpec, source: SourceTable) -> date:
    """The snapshot date a file declares in a column (`snapshot_date: {column: X}`): the latest
    date in it (a long export may run past midnight). MappingError when the column is missing,
    holds no date, or holds a value that is not a date: the whole file is rejected."""
    declared = spec.snapshot_date.column
    header = _find_header(declared, source.columns)
    if header is None:
        raise MappingError(f"missing column {declared!r} (the file's snapshot date)")
    formats = spec.snapshot_date.formats or spec.date_formats + spec.timestamp_formats
    text = _clean(quote_ident(header), spec)
    parsed = f"cast({_parse_time('t', formats)} as date)"
    bad, example, latest = con.execute(
        f"select count(*) filter (where t is not null and d is null), "
        f"min(t) filter (where t is not null and d is null), max(d) "
        f"from (select t, {parsed} as d from (select {text} as t from {source.relation}))"
    ).fetchone()
    if bad:
        raise MappingError(
            f"cannot parse the snapshot date {example[:_SHOWN_VALUE_CHARS]!r} in column {declared!r} "
            f"as a date ({', '.join(formats)}; {bad} such rows)"
        )
    if latest is None:
        raise MappingError(f"column {declared!r} holds no snapshot date: the file's snapshot date is unknown")
    return latest


def _free_prefix(prefix: str, headers: list[str]) -> str:
    """`prefix`, lengthened until no header starts with it (DuckDB ignores case)."""
    lowered = [h.lower() for h in headers]
    while any(h.startswith(prefix.lower()) for h in lowered):
        prefix = "_" + prefix
    return prefix


def _field_count_reason(source: SourceTable) -> str:
    """'row has 7 fields, header has 6', or the truncated last row of a cut file."""
    width, count = len(source.columns), source.field_count
    text = f"'row has ' || {count} || ' fields, header has {width}'"
    if source.cut_short:
        text = (
            f"case when {source.cut_short} then 'truncated: the file ends without a newline in its last row, "
            f"which has ' || {count} || ' of {width} fields (cut short?)' else {text} end"
        )
    return f"case when {count} is not null then {text} end"


def _clean(value_sql: str, spec: SourceSpec) -> str:
    # Plain trim(): DuckDB's (2.0) removes the Unicode space separators (category Zs: the space,
    # NBSP, the ideographic space, ...) at both ends; a custom character set makes it ~8x slower.
    # A number or date with a stray tab inside still cannot parse, so it is quarantined, not misread.
    text = f"nullif(trim({value_sql}), '')"
    if spec.null_values:
        nulls = ", ".join(quote_literal(v) for v in spec.null_values)
        text = f"(case when {text} in ({nulls}) then null else {text} end)"
    return text


def _mapped_text(res: ResolvedColumn, spec: SourceSpec) -> str:
    m = res.mapping
    if m is None:
        return "cast(null as varchar)"
    if m.column is not None:
        text = quote_ident(res.header or m.column)
    elif m.const is not None:
        text = f"nullif({quote_literal(m.const)}, '')"
    elif m.expr is not None:
        text = _clean(f"cast(({m.expr}) as varchar)", spec)
    else:
        text = "cast(null as varchar)"
    if m.values:
        cases = " ".join(f"when {quote_literal(k)} then {quote_literal(v)}" for k, v in m.values)
        text = f"(case {text} {cases} else {text} end)"
    if m.default is not None:
        text = f"coalesce({text}, {quote_literal(m.default)})"
    return text


# Zero-width space, non-joiner and joiner, word joiner, and U+FEFF (a byte-order mark in mid-file,
# where two exports were concatenated): invisible, so `A1` + one of them looks like `A1` and
# does not join to it.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _cleaned(res: ResolvedColumn) -> bool:
    """The column's mapped text is a file column as `cleaned` left it: trimmed, never empty."""
    m = res.mapping
    return m is not None and m.column is not None and not m.values and m.default is None


def _identifier_text(col: Column, text: str, cleaned: bool = False) -> str:
    """An identifier (`*_id`) without invisible characters: it joins to the key it shows.
    cleaned: `text` is already trimmed and never empty (_cleaned)."""
    if not col.name.endswith("_id"):
        return text
    visible = f"nullif(trim(translate({text}, {quote_literal(_INVISIBLE)}, '')), '')"
    # DuckDB's translate() builds its character map per value (order_lines at scale 50: a third of
    # the stage's CPU), and trim() decodes every character; the invisible characters are not ASCII,
    # so an all-ASCII value (as many bytes as characters) only needs the trim, if that.
    ascii_text = text if cleaned else f"nullif(trim({text}), '')"
    return f"case when strlen({text}) = length({text}) then {ascii_text} else {visible} end"


def _number_text(m: str, spec: SourceSpec) -> str:
    """Strip what the profile declared: currency symbols, thousands separators, decimal comma."""
    text = m
    for symbol in spec.currency_symbols:
        text = f"replace({text}, {quote_literal(symbol)}, '')"
    if spec.thousands:
        text = f"replace({text}, {quote_literal(spec.thousands)}, '')"
    if spec.decimal == ",":
        text = f"replace({text}, ',', '.')"
    return text if text == m else f"trim({text})"


def _parse_time(m: str, formats: tuple[str, ...]) -> str:
    tries = []
    for fmt in formats:
        if fmt == EXCEL_SERIAL:
            number = f"try_cast({m} as double)"
            tries.append(
                f"case when regexp_full_match({m}, '[0-9]+(\\.[0-9]+)?')"
                f" and {number} between 1 and {_EXCEL_MAX_SERIAL} "
                f"then timestamp '1899-12-30' + to_microseconds(cast(round({number} * 86400000000) as bigint)) end"
            )
        else:
            tries.append(f"try_strptime({m}, {quote_literal(fmt)})")
    return tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"


def _typed(col: Column, m: str, spec: SourceSpec, mapping: ColumnMapping | None) -> str:
    own = mapping.formats if mapping is not None else None
    if col.type == VARCHAR:
        return m
    if col.is_month:
        return f"cast(date_trunc('month', {_parse_time(m, own or spec.month_formats)}) as date)"
    if col.type == DATE:
        return f"cast({_parse_time(m, own or spec.date_formats)} as date)"
    if col.type == TIMESTAMP:
        return f"cast({_parse_time(m, own or spec.timestamp_formats)} as timestamp)"
    number = _number_text(m, spec)
    if col.type == INTEGER:
        # try_cast would round '3.5' to 4: accept only whole numbers.
        return f"case when regexp_full_match({number}, '[+-]?[0-9]+(\\.0*)?') then try_cast({number} as integer) end"
    return f"try_cast({number} as {col.type})"


def _kind(col: Column) -> str:
    if col.is_month:
        return "month"
    return {DATE: "date", TIMESTAMP: "timestamp", INTEGER: "integer"}.get(col.type, "number")


def _shown(value_sql: str) -> str:
    return f"left({value_sql}, {_SHOWN_VALUE_CHARS})"


def _utc_today() -> date:
    return datetime.now(timezone.utc).date()


def _future_reason(col: Column, horizon: Horizon) -> str:
    name = quote_ident(col.name)
    allowed = f" and not coalesce(({col.future_ok}), false)" if col.future_ok else ""
    return (
        f"case when cast({name} as date) > date {quote_literal(horizon.last_day.isoformat())}{allowed} then "
        f"{quote_literal(col.name + ': ')} || strftime(cast({name} as date), '%Y-%m-%d') || "
        f"{quote_literal(f' is more than {horizon.days} days after the file landed ({horizon.landed.isoformat()})')}"
        " end"
    )


# C0 control characters but tab, newline and carriage return (RE2 syntax): PostgreSQL refuses a
# NUL in text (the whole publish rolls back) and the others corrupt reports and CSV extracts.
_CONTROL_CHARACTERS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def _any_control_character(
    ent: Entity, mapped_names: dict[str, str], resolved: dict[str, ResolvedColumn], control_free: frozenset[str]
) -> str:
    """Whether any text column of the row holds a control character. One search over the columns
    joined (concat skips NULLs and adds no separator, so it finds exactly what a search of each
    would) costs a third of one per column (activities at scale 50: 0.4 s of CPU); the column's
    own search then runs only on the rare rows where this one matched. A column read as it is
    (trimmed, nothing added) from a file column in control_free is left out."""
    texts = [
        mapped_names[c.name]
        for c in ent.columns
        if c.type == VARCHAR and not (_cleaned(resolved[c.name]) and resolved[c.name].header in control_free)
    ]
    if not texts:
        return "false"
    return f"regexp_matches(concat({', '.join(texts)}), {quote_literal(_CONTROL_CHARACTERS)})"


def _control_character_reason(col: Column, m: str, control: str = "true") -> str:
    pattern = quote_literal(_CONTROL_CHARACTERS)
    return (
        f"case when {control} and regexp_matches({m}, {pattern}) then "
        f"{quote_literal(col.name + ': contains control character ')} "
        f"|| printf('U+%04X', unicode(regexp_extract({m}, {pattern}))) || "
        "' (only tab, newline and carriage return are allowed in text)' end"
    )


def _column_reasons(col: Column, m: str, horizon: Horizon, control: str = "true") -> list[str]:
    name = quote_ident(col.name)
    reasons = []
    if col.type == VARCHAR:
        reasons.append(_control_character_reason(col, m, control))
    if col.required:
        reasons.append(f"case when {m} is null then {quote_literal(col.name + ': required value is empty')} end")
    if col.type != VARCHAR:
        reasons.append(
            f"case when {m} is not null and {name} is null then "
            f"{quote_literal(col.name + ': cannot parse ')} || '''' || {_shown(m)} || ''' as {_kind(col)}' end"
        )
    if col.type in (DATE, TIMESTAMP):
        reasons.append(
            f"case when {name} < date {quote_literal(EARLIEST_DATE)} then "
            f"{quote_literal(col.name + ': ')} || '''' || {_shown(m)} || "
            f"{quote_literal(chr(39) + ' is before ' + EARLIEST_DATE + ' (a 2-digit year?)')} end"
        )
        if col.future_ok != "true":
            reasons.append(_future_reason(col, horizon))
    if col.enum:
        allowed = ", ".join(quote_literal(v) for v in col.enum)
        reasons.append(
            f"case when {name} is not null and {name} not in ({allowed}) then "
            f"{quote_literal(col.name + ': ')} || '''' || {_shown(name)} || "
            f"{quote_literal(chr(39) + ' not in (' + ', '.join(col.enum) + ')')} end"
        )
    return reasons


def _rule_reason(ent: Entity, sql: str, text: str) -> str:
    # "quantity must be > 0" -> "quantity: must be > 0", like the other reasons.
    first, _, rest = text.partition(" ")
    if first in ent.column_names and rest:
        text = f"{first}: {rest}"
    return f"case when not coalesce(({sql}), true) then {quote_literal(text)} end"
