"""`unpivot:` in a source: wide to long, one row per listed source column.

    budgets:
      files: ["budget_2025.xlsx"]
      unpivot:
        columns: '^\\d{4}-\\d{2}$'     # a regular expression (Python syntax) over the header, or a list of names
        name: month_text            # a new source column: the header, or its first capture group
        value: amount_text          # a new source column: the cell
      columns:
        month: month_text
        team_id: Team
        category: Category
        budget_amount: amount_text

Every other column of the file repeats on each of its rows. The `name` column holds the header
the value came from, or the regex's first group (`^(\\d+)月$` gives `3` for `3月`), to be
parsed by the mapping like any source column (a `values` map for stages, an `expr` to build a
month from a year column). An empty cell gives no row. `rows_read` counts the unpivoted rows
(rows read = loaded + quarantined still holds); a quarantined row keeps its source row number, and
its raw record holds the row's other columns with the cell's name and value. A file with no
column matching is rejected, as is one lacking a listed column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Unpivot:
    names: tuple[str, ...] = ()  # listed source columns, or
    pattern: str | None = None  # a regular expression the headers must match (re.fullmatch)
    name: str = "name"
    value: str = "value"


def parse_unpivot(value, fail: Callable[[str, str], Exception], where: str) -> Unpivot:
    if not isinstance(value, dict):
        raise fail(where, "must be a mapping with columns, name and value")
    unknown = sorted(set(value) - {"columns", "name", "value"})
    if unknown:
        raise fail(where, f"unknown key {unknown[0]!r}; allowed: columns, name, value")
    for key in ("name", "value"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise fail(f"{where}.{key}", "must name the new source column the mappings read")
    if value["name"] == value["value"]:
        raise fail(where, "name and value must differ")
    columns = value.get("columns")
    if isinstance(columns, str):
        try:
            re.compile(columns)
        except re.error as exc:
            raise fail(f"{where}.columns", f"bad regular expression {columns!r}: {exc}") from None
        return Unpivot(pattern=columns, name=value["name"], value=value["value"])
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
        raise fail(f"{where}.columns", "must be a regular expression or a list of source column names")
    return Unpivot(names=tuple(columns), name=value["name"], value=value["value"])


def matched(spec: Unpivot, headers: list[str]) -> list[tuple[str, str]]:
    """(header, parsed name) for each column to unpivot, in header order."""
    if spec.pattern is None:
        wanted = {n.strip().lower() for n in spec.names}
        return [(h, h) for h in headers if h.strip().lower() in wanted]
    found = []
    for header in headers:
        m = re.fullmatch(spec.pattern, header.strip())
        if m:
            found.append((header, m.group(1) if m.groups() else header.strip()))
    return found


def apply(spec: Unpivot, source):
    """The source with its matched columns turned into rows of (name, value)."""
    from ingestion.mapping import MappingError, _find_header
    from ingestion.profile import quote_ident, quote_literal

    pairs = matched(spec, source.columns)
    if not pairs:
        wanted = spec.pattern or ", ".join(spec.names)
        raise MappingError(f"no column to unpivot: none matches '{wanted}'")
    if spec.pattern is None and len(pairs) < len(spec.names):
        absent = [n for n in spec.names if _find_header(n, source.columns) is None]
        raise MappingError(f"missing column {absent[0]!r} (listed under unpivot)")
    for new in (spec.name, spec.value):
        if _find_header(new, source.columns) is not None:
            raise MappingError(f"unpivot: column {new!r} is already in the file; name it otherwise")
    on = ", ".join(quote_ident(h) for h, _ in pairs)
    parsed = " ".join(f"when {quote_literal(h)} then {quote_literal(p)}" for h, p in pairs)
    relation = (f"(select * exclude (__up_name), cast(case __up_name {parsed} end as varchar) as {quote_ident(spec.name)} "
                f"from (unpivot (select * from {source.relation}) on {on} "
                f"into name __up_name value {quote_ident(spec.value)}))")
    kept = [c for c in source.columns if c not in {h for h, _ in pairs}]
    return replace(source, relation=relation, columns=kept + [spec.value, spec.name])
