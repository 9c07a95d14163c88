"""`lookup:` in a source: take columns from another file of the same landing folder, joined on a key.

    leads:
      files: ["qualified_leads.csv"]
      lookup:
        - file: "closed_deals*.csv"          # a glob in the same landing folder, read like the source
          key: {"Lead ID": "Lead Ref"}       # source column: lookup column (YAML reads `on` as true)
          columns: {"Deal ID": deal_id, "Closed On": deal_closed_on}   # or a list of names
      columns:
        converted_opportunity_id: deal_id    # looked-up columns are read like the file's own

The looked-up columns join the file's columns before mapping (a left join: a row without a match
reads NULL there, and stays one row). Rules:
- a lookup file whose key repeats rejects the dependent file (the reason names the key and one
  duplicate): which of the two rows is meant is anybody's guess;
- a lookup file or key column the file lacks rejects it like any missing required column;
- no file matching the lookup's glob: the looked-up columns are NULL, and the ledger says so;
- several files matching it: they are read as one table, in path order.
The ledger's `lookup_files` records which files fed which rows: each lookup file with its
sha256 prefix and how many rows found their key in it.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import count
from pathlib import Path

from ingestion.hashing import file_sha256
from ingestion.mapping import MappingError, _find_header
from ingestion.profile import quote_ident
from ingestion.source_options import Lookup

_names = count()


def sha_prefix(path: Path) -> str:

    return file_sha256(path)[:8]


def attach(con, spec, source, landing_root: Path, work_dir: Path, read_file) -> tuple[object, str | None]:
    """The source with every lookup's columns joined in, and the ledger's lineage text.
    read_file(path) -> SourceTable opens a lookup file with the source's reading options."""
    if not spec.lookups:
        return source, None
    relation, columns, notes = source.relation, list(source.columns), []
    for lk in spec.lookups:
        relation, added, note = _join(con, lk, relation, source, columns, landing_root, read_file)
        columns += added
        notes.append(note)
    return replace(source, relation=relation, columns=columns), "; ".join(notes)


def _join(con, lk: Lookup, relation: str, source, columns: list[str], root: Path, read_file):
    names = [alias for _, alias in lk.columns]
    clash = [n for n in names if _find_header(n, columns) is not None]
    if clash:
        raise MappingError(
            f"lookup {lk.file}: column {clash[0]!r} is also in the file; name it otherwise "
            f"(`columns: {{{lk.columns[names.index(clash[0])][0]}: another_name}}`)"
        )
    keys = []
    for mine, _ in lk.key:
        header = _find_header(mine, columns)
        if header is None:
            raise MappingError(f"missing column {mine!r} (the key of lookup {lk.file})")
        keys.append(header)
    table = f"lookup_{next(_names)}"
    source.cleanup.append(lambda: _drop(con, table))
    paths = sorted(p for p in root.glob(lk.file) if p.is_file() and not p.name.startswith((".", "~$")))
    if not paths:
        nulls = ", ".join(f"cast(null as varchar) as {quote_ident(n)}" for n in names)
        joined = f"(select __lm.*, {nulls} from {relation} as __lm)"
        return joined, names, f"{lk.file}: absent, {', '.join(names)} NULL"
    _materialize(con, lk, table, paths, read_file)
    _check_unique(con, lk, table)
    cond = " and ".join(f"trim(__lm.{quote_ident(h)}) = __lk.__k{i}" for i, h in enumerate(keys))
    picks = ", ".join(f"__lk.{quote_ident(a)}" for a in names)
    joined = f"(select __lm.*, {picks}, __lk.__hit from {relation} as __lm left join {table} as __lk on {cond})"
    con.execute(f"create temp table {table}_j as select * from {joined}")
    (hits, total) = con.execute(f"select count(__hit), count(*) from {table}_j").fetchone()
    rel = ", ".join(f"{p.relative_to(root).as_posix()} (sha256 {sha_prefix(p)})" for p in paths)
    keep = f"(select * exclude (__hit) from {table}_j order by {source.row_number})"
    return keep, names, f"{rel}: fed {hits} of {total} rows on {', '.join(k for k, _ in lk.key)}"


def _drop(con, table: str) -> None:
    names = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where temporary and "
            "(table_name = ? or starts_with(table_name, ? || '_'))",
            [table, table],
        ).fetchall()
    ]
    for name in names:
        con.execute(f"drop table if exists {name}")


def _materialize(con, lk: Lookup, table: str, paths: list[Path], read_file) -> None:
    parts = []
    for path in paths:
        src = read_file(path)
        try:
            wanted = [theirs for _, theirs in lk.key] + [c for c, _ in lk.columns]
            found = {w: _find_header(w, src.columns) for w in wanted}
            lacking = [w for w, h in found.items() if h is None]
            if lacking:
                raise MappingError(f"lookup file {path.name} has no column {lacking[0]!r}")
            keys = [f"nullif(trim({quote_ident(found[t])}), '') as __k{i}" for i, (_, t) in enumerate(lk.key)]
            cols = [f"nullif(trim({quote_ident(found[c])}), '') as {quote_ident(a)}" for c, a in lk.columns]
            part = (
                f"create temp table {table}_{len(parts)} as"
                f" select {', '.join(keys + cols)}, true as __hit from {src.relation}"
            )
            con.execute(part)
            parts.append(f"select * from {table}_{len(parts)}")
        finally:
            src.close()
    con.execute(f"create temp table {table} as {' union all '.join(parts)}")


def _check_unique(con, lk: Lookup, table: str) -> None:
    keys = ", ".join(f"__k{i}" for i in range(len(lk.key)))
    dup = con.execute(
        f"select {keys}, count(*) from {table} where __k0 is not null group by all having count(*) > 1 "
        "order by 1 limit 1"
    ).fetchone()
    if dup:
        key = ", ".join(t for _, t in lk.key)
        shown = ", ".join(repr(v) for v in dup[:-1])
        raise MappingError(f"lookup {lk.file}: key {key} is not unique ({shown} appears {dup[-1]} times)")
