"""Source columns a file lacks: the missing-column rule of exports.md ("Bad input").

A column missing that a required canonical column is mapped from rejects the file; one that only
optional canonical columns are mapped from leaves those columns NULL, and the file's ledger row
names it (`missing_columns`, e.g. `BillingState (region); CallDisposition (outcome)`). A mapping
may list fallbacks, `column: [StatusCode, Status]`: the first one the file has is read.

`file_report` gives, per canonical column, whether a landed file holds what the profile maps it
from (`salesdw check-profile NAME --landing DIR`).
"""

from __future__ import annotations

from dataclasses import dataclass

PRESENT, MISSING_OPTIONAL, MISSING_REQUIRED = "present", "missing-optional", "missing-required"


def missing_columns(spec, ent, headers: list[str], duplicated=frozenset()) -> str | None:
    """The ledger's text for the source columns an accepted file lacks, or None when it has them all."""
    from ingestion.mapping import resolve

    resolved = resolve(spec, ent, headers, duplicated)
    parts = [f"{', '.join(r.missing)} ({name})" for name, r in resolved.items() if r.missing]
    return "; ".join(parts) or None


@dataclass(frozen=True)
class ColumnStatus:
    canonical: str
    source: str  # what the profile maps it from, as written
    status: str  # present | missing-optional | missing-required


def file_report(spec, ent, headers: list[str]) -> list[ColumnStatus]:
    """One row per mapped canonical column: is its source in this file's header?"""
    from ingestion.mapping import _find_header, first_header

    rows = []
    for col in ent.columns:
        mapping = spec.columns.get(col.name)
        if mapping is None and spec.columns_by_name:
            names, found = [col.name], _find_header(col.name, headers) is not None
        elif mapping is None or mapping.const is not None:
            continue
        elif mapping.column is not None:
            names, found = [mapping.column, *mapping.fallbacks], first_header(mapping, headers) is not None
        else:
            names = list(mapping.expr_columns)
            found = all(_find_header(n, headers) is not None for n in names)
        status = PRESENT if found else (MISSING_REQUIRED if col.required else MISSING_OPTIONAL)
        rows.append(ColumnStatus(col.name, " | ".join(names) or "(expression)", status))
    return rows


def landing_report(profile, landing_dir) -> list[tuple[str, str, list[ColumnStatus] | str]]:
    """(file, entity, column statuses or why the file cannot be read) for each file the profile matches."""
    import tempfile
    from pathlib import Path

    import duckdb

    from ingestion.canonical import ENTITIES
    from ingestion.profile import NO_EXTENSION_DOWNLOADS
    from ingestion.readers import ReadError, open_source

    root = Path(landing_dir).resolve()
    report = []
    with (
        tempfile.TemporaryDirectory(prefix="check-profile-") as tmp,
        duckdb.connect(config=NO_EXTENSION_DOWNLOADS) as con,
    ):
        for spec in profile.sources:
            for path in spec.match(root):
                rel, fmt = path.relative_to(root).as_posix(), spec.file_format(path)
                try:
                    source = open_source(con, path, fmt, spec, Path(tmp))
                except (ReadError, OSError) as exc:
                    report.append((rel, spec.entity, f"unreadable: {exc}"))
                    continue
                try:
                    report.append(
                        (rel, spec.entity, file_report(spec, ENTITIES[spec.entity], _read_columns(spec, source)))
                    )
                finally:
                    source.close()
    return report


def extended_source(con, spec, ent, source, root, work_dir):
    """The file as the mapping reads it (lookups joined in, unpivoted) and the ledger's notes about it: the
    source columns it lacks, the lookup files and how many rows each fed."""
    from ingestion import unpivot
    from ingestion.lookup import attach
    from ingestion.readers import open_source

    if not source.columns:
        return source, {}
    read, lookups = attach(
        con, spec, source, root, work_dir, lambda p: open_source(con, p, spec.file_format(p) or "csv", spec, work_dir)
    )
    if spec.unpivot is not None:
        read = unpivot.apply(spec.unpivot, read)
    return read, {"missing_columns": missing_columns(spec, ent, read.columns, read.duplicated), "lookup_files": lookups}


def _read_columns(spec, source) -> list[str]:
    """The columns the mappings read: the file's, its lookups' taken columns and the unpivot's two."""
    from ingestion.unpivot import matched

    columns = list(source.columns) + [alias for lk in spec.lookups for _, alias in lk.columns]
    if spec.unpivot is not None:
        unpivoted = {h for h, _ in matched(spec.unpivot, columns)}
        columns = [c for c in columns if c not in unpivoted] + [spec.unpivot.name, spec.unpivot.value]
    return columns
