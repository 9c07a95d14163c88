"""The profile keys that reshape a source before its columns are mapped, as the profile parses them.

`lookup:` (ingestion/lookup.py), `unpivot:` (ingestion/unpivot.py) and a mapping's list of
fallback columns (ingestion/columns.py) are validated when a profile loads: this module holds
their parsed forms and parsers, which need nothing of ingestion, so the profile depends on them
and the modules that apply them depend on the profile, one way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


def column_choices(value, fail: Callable[[str], Exception]) -> tuple[str, tuple[str, ...]]:
    """`column:` of a mapping: one source column name, or a list of them (the first one present wins)."""
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise fail("must be a source column name or a list of them (the first one the file has is read)")
    return names[0], tuple(names[1:])


@dataclass(frozen=True)
class Lookup:
    file: str  # glob relative to the landing folder
    key: tuple[tuple[str, str], ...]  # (source column, lookup column)
    columns: tuple[tuple[str, str], ...]  # (lookup column, name the mappings read it by)


def parse_lookups(
    value, fail: Callable[[str, str], Exception], check_pattern: Callable[[str, str], None], where: str
) -> tuple[Lookup, ...]:
    """Validate the YAML of `lookup:` (one mapping or a list of them)."""
    items = value if isinstance(value, list) else [value]
    lookups = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(item, dict):
            raise fail(at, "must be a mapping with file, key and columns")
        unknown = sorted(set(item) - {"file", "key", "columns"})
        if unknown:
            raise fail(at, f"unknown key {unknown[0]!r}; allowed: columns, file, key")
        if not isinstance(item.get("file"), str) or not item["file"]:
            raise fail(f"{at}.file", "must be a file name or glob relative to the landing folder")
        check_pattern(item["file"], f"{at}.file")
        key = _pairs(item.get("key"), lambda m: fail(f"{at}.key", m))
        columns = _pairs(item.get("columns"), lambda m: fail(f"{at}.columns", m))
        lookups.append(Lookup(item["file"], key, columns))
    return tuple(lookups)


def _pairs(value, fail) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = {v: v for v in value} if all(isinstance(v, str) and v for v in value) else None
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items())
    ):
        raise fail("must be a column name, a list of names, or a mapping of names to names")
    return tuple(value.items())


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
