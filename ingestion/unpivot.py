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
from dataclasses import replace

from ingestion.mapping import MappingError, _find_header
from ingestion.profile import quote_ident, quote_literal
from ingestion.source_options import Unpivot


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
    relation = (
        f"(select * exclude (__up_name), cast(case __up_name {parsed} end as varchar) as {quote_ident(spec.name)} "
        f"from (unpivot (select * from {source.relation}) on {on} "
        f"into name __up_name value {quote_ident(spec.value)}))"
    )
    kept = [c for c in source.columns if c not in {h for h, _ in pairs}]
    return replace(source, relation=relation, columns=kept + [spec.value, spec.name])
