"""Source profiles: YAML files that map an export system's files and columns onto the canonical
entities, with no Python (format documented in ingestion/profiles/README.md).

`load_profile` parses and validates a profile up front, so a typo in a profile fails with one
clear message naming the file and the key, before any landed file is touched. Everything a
profile can say is a field of `SourceSpec` / `ColumnMapping`; the loader turns them into SQL.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import duckdb
import yaml

from ingestion.canonical import ENTITIES
from ingestion.expr_check import bind_error
from ingestion.globs import case_insensitive
from ingestion.safe_yaml import safe_load as safe_yaml_load
from ingestion.source_options import Lookup, Unpivot, column_choices, parse_lookups, parse_unpivot

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"

# File formats a source may declare; `auto` picks one per file from its extension.
FORMATS = ("auto", "csv", "csv.gz", "tsv", "tsv.gz", "xlsx", "json", "jsonl", "parquet")
EXTENSION_FORMATS = {  # longest suffix first
    ".csv.gz": "csv.gz",
    ".tsv.gz": "tsv.gz",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
EXCEL_SERIAL = "excel"  # date/timestamp format token: an Excel serial day number (1900 system)
THOUSANDS_SEPARATORS = (",", ".", " ", "'", "\u00a0", "_")
# Statement keywords that have no business inside a column expression or a row filter.
_FORBIDDEN_SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|merge|upsert|create|drop|alter|truncate|attach|detach|copy|"
    r"export|import|install|load|pragma|set|reset|call|grant|revoke|vacuum|checkpoint|begin|"
    r"commit|rollback|use|with|union|returning)\b",
    re.IGNORECASE,
)
# A profile expression naming an extension's function must not make DuckDB download and load
# native code (at validation or ingestion): the engines that run profile SQL use these settings.
NO_EXTENSION_DOWNLOADS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_VALID_FORMATS: set[str] = set()  # strptime formats DuckDB accepted already (profiles share a few)
_PROFILE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_KEYS = {"name", "description", "defaults", "entities"}
# Keys of a source (one file set feeding one entity); `defaults` may hold the reading ones.
_READ_KEYS = {
    "files",
    "format",
    "encoding",
    "delimiter",
    "quote",
    "sheet",
    "header_row",
    "decimal",
    "thousands",
    "currency_symbols",
    "null_values",
    "date_formats",
    "timestamp_formats",
    "month_formats",
    "columns_by_name",
}
_SOURCE_KEYS = _READ_KEYS | {"columns", "filter", "distinct", "snapshot_date", "lookup", "unpivot"}
_MAPPING_KEYS = {"column", "const", "expr", "values", "default", "formats", "optional"}
_SNAPSHOT_DATE_KEYS = {"name", "column", "formats"}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the profile file and the offending key."""


@dataclass(frozen=True)
class ColumnMapping:
    """Where one canonical column's text comes from, before it is typed and validated."""

    target: str
    column: str | None = None  # a source column (header) name
    const: str | None = None  # a constant
    expr: str | None = None  # a SQL expression over (trimmed, empty -> NULL) source columns
    values: tuple[tuple[str, str], ...] = ()  # value map applied to the text (e.g. stage names)
    default: str | None = None  # used when the value is empty
    formats: tuple[str, ...] | None = None  # overrides the source's date/timestamp/month formats
    optional: bool = False  # a missing source column gives NULL instead of rejecting the file
    fallbacks: tuple[str, ...] = ()  # source columns read, in order, when `column` is not in the file
    expr_columns: tuple[str, ...] = ()  # source columns the expression reads


@dataclass(frozen=True)
class SnapshotDate:
    """Where a file's snapshot date comes from (exports.md "Snapshots are effective-dated"):
    the one capture group of `name` searched in the file name, or the dates in `column`."""

    name: re.Pattern | None = None
    column: str | None = None
    formats: tuple[str, ...] = ()  # strptime formats; empty: the source's date formats

    def from_file_name(self, path: Path, default_formats: tuple[str, ...]) -> date:
        """The date the file name declares; SnapshotDateError says why there is none."""
        assert self.name is not None
        found = self.name.search(path.name)
        if found is None:
            raise SnapshotDateError(f"the file name holds no snapshot date matching {self.name.pattern!r}")
        text = found.group(1)
        for fmt in self.formats or default_formats:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        shown = ", ".join(self.formats or default_formats)
        raise SnapshotDateError(f"cannot parse the snapshot date {text!r} of the file name as a date ({shown})")


class SnapshotDateError(ValueError):
    """A file whose declared snapshot date is missing or cannot be parsed (the file is rejected)."""


@dataclass(frozen=True)
class SourceSpec:
    """One set of files feeding one entity, and how to read and map them."""

    entity: str
    files: tuple[str, ...]  # globs relative to the landing folder; `{entity}` is substituted
    format: str = "auto"
    encoding: str = "utf-8"
    delimiter: str | None = None  # default: ',' for csv, tab for tsv
    quote: str = '"'
    sheet: str | int | None = None  # xlsx: sheet name or 1-based position; default the first
    header_row: int = 1  # xlsx: 1-based row holding the column names
    decimal: str = "."
    thousands: str | None = None
    currency_symbols: tuple[str, ...] = ()
    null_values: tuple[str, ...] = ()  # texts that mean "empty" besides the empty string
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    timestamp_formats: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S",)
    month_formats: tuple[str, ...] = ("%Y-%m",)
    columns_by_name: bool = False  # canonical columns not in `columns` read the same-named column
    columns: dict[str, ColumnMapping] = field(default_factory=dict)
    filter: str | None = None  # SQL boolean over source columns: rows where it is not true are skipped
    filter_columns: tuple[str, ...] = ()
    distinct: bool = False  # keep the first row of each set of identical mapped values
    snapshot_date: SnapshotDate | None = None  # None: a file's snapshot date is the day it landed
    lookups: tuple[Lookup, ...] = ()  # columns joined in from other files (ingestion/lookup.py)
    unpivot: Unpivot | None = None  # wide to long (ingestion/unpivot.py)

    def patterns(self) -> list[str]:
        return [p.replace("{entity}", self.entity) for p in self.files]

    def match(self, landing_dir: Path) -> list[Path]:
        """Files under landing_dir this source reads, sorted by relative path (the load order)."""
        root = Path(landing_dir).resolve()
        found: set[Path] = set()
        for pattern in self.patterns():
            for path in root.glob(case_insensitive(pattern)):  # ORDERS.CSV is orders.csv
                if path.is_dir():  # a folder means every file in it the format can read
                    found.update(p for p in path.iterdir() if p.is_file() and self._readable(p))
                elif path.is_file():
                    found.add(path)
        # Hidden files and Office lock files (`~$budget.xlsx`) are editors' scratch, not exports;
        # a symlink must not lead the reader out of the landing folder.
        inside = [p for p in found if not p.name.startswith((".", "~$")) and p.resolve().is_relative_to(root)]
        return sorted(inside, key=lambda p: (self._name_date(p), p.relative_to(root).as_posix()))

    def _name_date(self, path: Path) -> date:
        """Files dated by name load in date order (one without a date last: it is rejected)."""
        if self.snapshot_date is None or self.snapshot_date.name is None:
            return date.min
        try:
            return self.snapshot_date.from_file_name(path, self.date_formats)
        except SnapshotDateError:
            return date.max

    def _readable(self, path: Path) -> bool:
        return self.format != "auto" or format_of(path) is not None

    def file_format(self, path: Path) -> str | None:
        return format_of(path) if self.format == "auto" else self.format


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    description: str
    sources: tuple[SourceSpec, ...]

    @property
    def entities(self) -> list[str]:
        return list(dict.fromkeys(s.entity for s in self.sources))

    def sources_for(self, entities=None) -> list[SourceSpec]:
        return [s for s in self.sources if entities is None or s.entity in entities]


def format_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, fmt in EXTENSION_FORMATS.items():
        if name.endswith(suffix):
            return fmt
    return None


def is_profile_name(text: str) -> bool:
    """A name that selects a profile in ingestion/profiles/ (never a path: no '/', '.' or '..')."""
    return bool(_PROFILE_NAME.match(text))


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by name (ingestion/profiles/<name>.yml) or by path."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith((".yml", ".yaml"))
    path = Path(text) if looks_like_path else PROFILES_DIR / f"{text}.yml"
    if not path.is_file():
        raise ProfileError(f"profile {text!r} not found ({path}); built-in profiles: {', '.join(available_profiles())}")
    try:
        document = safe_yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: bad YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: profile files must be UTF-8 ({exc.reason})") from None
    return _Parser(path).profile(document)


class _Parser:
    """Turns the YAML document into a Profile; every error names the file and the key path."""

    def __init__(self, path: Path):
        self.path = path
        self._connection: duckdb.DuckDBPyConnection | None = None

    @property
    def _con(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:  # only profiles with expressions or new formats need DuckDB
            self._connection = duckdb.connect(config=NO_EXTENSION_DOWNLOADS)
        return self._connection

    def fail(self, where: str, message: str) -> ProfileError:
        return ProfileError(f"{self.path}: {where}: {message}")

    def profile(self, doc: Any) -> Profile:
        if not isinstance(doc, dict):
            raise ProfileError(f"{self.path}: a profile is a YAML mapping with an `entities` key")
        self._unknown_keys(doc, _TOP_KEYS, "top level")
        name = doc.get("name", self.path.stem)
        if not isinstance(name, str) or not _PROFILE_NAME.match(name):
            raise self.fail("name", f"{name!r} must be lower_snake_case (it names the landing folder)")
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise self.fail("defaults", "must be a mapping of reading options")
        self._unknown_keys(defaults, _READ_KEYS, "defaults")
        entities = doc.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise self.fail("entities", "must map at least one canonical entity to its source(s)")
        sources = []
        for entity_name, spec in entities.items():
            where = f"entities.{entity_name}"
            if entity_name not in ENTITIES:
                raise self.fail(where, f"unknown entity {entity_name!r}; canonical entities: {', '.join(ENTITIES)}")
            specs = spec if isinstance(spec, list) else [spec]
            for i, one in enumerate(specs):
                one = {} if one is None else one
                sources.append(
                    self.source(entity_name, one, defaults, f"{where}[{i}]" if isinstance(spec, list) else where)
                )
        description = doc.get("description") or ""
        if self._connection is not None:
            self._connection.close()
        return Profile(
            name=name, path=self.path.resolve(), description=str(description).strip(), sources=tuple(sources)
        )

    def _unknown_keys(self, mapping: dict, allowed: set[str], where: str) -> None:
        unknown = [str(k) for k in mapping if k not in allowed]
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")

    def source(self, entity_name: str, spec: Any, defaults: dict, where: str) -> SourceSpec:
        if not isinstance(spec, dict):
            raise self.fail(where, "must be a mapping (or a list of mappings) describing a source")
        self._unknown_keys(spec, _SOURCE_KEYS, where)
        merged = {**defaults, **spec}
        kw: dict[str, Any] = {"entity": entity_name}
        self._files(merged, where, kw)
        self._reading(merged, where, kw)
        self._numbers(merged, where, kw)
        self._columns(entity_name, spec, where, kw)
        if "lookup" in spec:
            kw["lookups"] = parse_lookups(spec["lookup"], self.fail, self._check_pattern, f"{where}.lookup")
        if "unpivot" in spec:
            kw["unpivot"] = parse_unpivot(spec["unpivot"], self.fail, f"{where}.unpivot")
        if spec.get("filter") is not None:
            kw["filter"] = spec["filter"]
            kw["filter_columns"] = self.sql_expression(spec["filter"], f"{where}.filter")
        if spec.get("snapshot_date") is not None:
            kw["snapshot_date"] = self.snapshot_date(spec["snapshot_date"], f"{where}.snapshot_date")
        return SourceSpec(**kw)

    def _files(self, merged: dict, where: str, kw: dict[str, Any]) -> None:
        files = merged.get("files")
        if isinstance(files, str):
            files = [files]
        if not files or not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise self.fail(f"{where}.files", "must be a glob or a list of globs relative to the landing folder")
        for pattern in files:
            self._check_pattern(pattern, f"{where}.files")
        kw["files"] = tuple(files)

    def _reading(self, merged: dict, where: str, kw: dict[str, Any]) -> None:
        """How the file is read: format, encoding, delimiter and quote, sheet and header row."""
        fmt = str(merged.get("format", "auto")).lower()
        if fmt not in FORMATS:
            raise self.fail(f"{where}.format", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        kw["format"] = fmt

        encoding = merged.get("encoding", "utf-8")
        try:
            kw["encoding"] = codecs.lookup(str(encoding)).name
        except LookupError:
            raise self.fail(f"{where}.encoding", f"unknown encoding {encoding!r}") from None

        for key in ("delimiter", "quote"):
            if key in merged:
                value = merged[key]
                if not isinstance(value, str) or len(value) != 1:
                    raise self.fail(f"{where}.{key}", f"must be a single character, got {value!r}")
                kw[key] = value

        if "sheet" in merged:
            sheet = merged["sheet"]
            if isinstance(sheet, bool) or not (isinstance(sheet, str) or (isinstance(sheet, int) and sheet >= 1)):
                raise self.fail(f"{where}.sheet", "must be a sheet name or a 1-based sheet position")
            kw["sheet"] = sheet
        if "header_row" in merged:
            header_row = merged["header_row"]
            if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
                raise self.fail(f"{where}.header_row", "must be a 1-based row number")
            kw["header_row"] = header_row

    def _numbers(self, merged: dict, where: str, kw: dict[str, Any]) -> None:
        """How values are parsed: decimal and thousands separators, symbols, nulls, formats, flags."""
        decimal = merged.get("decimal", ".")
        if decimal not in (".", ","):
            raise self.fail(f"{where}.decimal", f"must be '.' or ',', got {decimal!r}")
        kw["decimal"] = decimal
        thousands = merged.get("thousands")
        if thousands is not None and (thousands not in THOUSANDS_SEPARATORS or thousands == decimal):
            raise self.fail(f"{where}.thousands", f"must be one of {THOUSANDS_SEPARATORS!r} and differ from decimal")
        kw["thousands"] = thousands

        for key in ("currency_symbols", "null_values"):
            if key in merged:
                kw[key] = self._string_list(merged[key], f"{where}.{key}")
        for key in ("date_formats", "timestamp_formats", "month_formats"):
            if key in merged:
                kw[key] = self._formats(merged[key], f"{where}.{key}")

        for key in ("columns_by_name", "distinct"):
            if key in merged:
                if not isinstance(merged[key], bool):
                    raise self.fail(f"{where}.{key}", "must be true or false")
                kw[key] = merged[key]

    def _columns(self, entity_name: str, spec: dict, where: str, kw: dict[str, Any]) -> None:
        """The canonical columns' mappings (from the source itself, never the defaults)."""
        ent = ENTITIES[entity_name]
        columns_spec = spec.get("columns") or {}
        if not isinstance(columns_spec, dict):
            raise self.fail(f"{where}.columns", "must map canonical columns to a source column, const or expr")
        columns = {}
        for target, mapping in columns_spec.items():
            if target not in ent.column_names:
                raise self.fail(
                    f"{where}.columns.{target}",
                    f"unknown canonical column {target!r} of {entity_name}; columns: {', '.join(ent.column_names)}",
                )
            columns[target] = self.mapping(target, mapping, f"{where}.columns.{target}")
        if not kw.get("columns_by_name"):
            for required in ent.required:
                if (
                    required not in columns
                    or columns[required].const is None
                    and not (columns[required].column or columns[required].expr)
                ):
                    raise self.fail(f"{where}.columns", f"missing mapping for required column {required!r}")
        kw["columns"] = columns

    def snapshot_date(self, value: Any, where: str) -> SnapshotDate:
        """`{name: <regex with one group>}` or `{column: <source column>}`, optional `formats`."""
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping: {name: <regex with one group>} or {column: <source column>}")
        self._unknown_keys(value, _SNAPSHOT_DATE_KEYS, where)
        if len([k for k in ("name", "column") if k in value]) != 1:
            raise self.fail(where, "needs exactly one of name (a regex over the file name) or column")
        formats = self._formats(value["formats"], f"{where}.formats") if "formats" in value else ()
        if "column" in value:
            if not isinstance(value["column"], str) or not value["column"]:
                raise self.fail(f"{where}.column", "must be a source column name")
            return SnapshotDate(column=value["column"], formats=formats)
        if EXCEL_SERIAL in formats:
            raise self.fail(f"{where}.formats", f"{EXCEL_SERIAL!r} cannot read a date in a file name")
        try:
            pattern = re.compile(str(value["name"]))
        except re.error as exc:
            raise self.fail(f"{where}.name", f"bad regular expression {value['name']!r}: {exc}") from None
        if pattern.groups != 1:
            raise self.fail(
                f"{where}.name",
                f"{pattern.pattern!r} must have exactly one (group) around the date, it has {pattern.groups}",
            )
        return SnapshotDate(name=pattern, formats=formats)

    def mapping(self, target: str, mapping: Any, where: str) -> ColumnMapping:
        if isinstance(mapping, str):
            return ColumnMapping(target=target, column=mapping)
        if isinstance(mapping, list):  # fallbacks: the first of these columns the file has
            mapping = {"column": mapping}
        if mapping is None:
            return ColumnMapping(target=target)  # explicitly unmapped: NULL
        if not isinstance(mapping, dict):
            raise self.fail(where, "must be a source column name or a mapping with column, const or expr")
        self._unknown_keys(mapping, _MAPPING_KEYS, where)
        sources = [k for k in ("column", "const", "expr") if k in mapping]
        if len(sources) != 1:
            raise self.fail(where, "needs exactly one of column, const, expr")
        kw: dict[str, Any] = {"target": target}
        if "column" in mapping:
            kw["column"], kw["fallbacks"] = column_choices(mapping["column"], lambda m: self.fail(f"{where}.column", m))
        if "const" in mapping:
            kw["const"] = self._scalar(mapping["const"], f"{where}.const")
        if "expr" in mapping:
            kw["expr"] = mapping["expr"]
            kw["expr_columns"] = self.sql_expression(mapping["expr"], f"{where}.expr")
        if "values" in mapping:
            values = mapping["values"]
            if not isinstance(values, dict) or not values:
                raise self.fail(f"{where}.values", "must map source values to canonical values")
            kw["values"] = tuple(
                (self._scalar(k, f"{where}.values key {k!r}"), self._scalar(v, f"{where}.values.{k}"))
                for k, v in values.items()
            )
        if "default" in mapping:
            kw["default"] = self._scalar(mapping["default"], f"{where}.default")
        if "formats" in mapping:
            kw["formats"] = self._formats(mapping["formats"], f"{where}.formats")
        if "optional" in mapping:
            if not isinstance(mapping["optional"], bool) or "column" not in mapping:
                raise self.fail(f"{where}.optional", "must be true or false, next to `column`")
            kw["optional"] = mapping["optional"]
        return ColumnMapping(**kw)

    def _scalar(self, value: Any, where: str) -> str:
        # YAML 1.1 reads yes/no/on/off/true as booleans and 2024-01-05 as a date: ask for quotes
        # rather than guess which spelling the source file uses.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(where, f"{value!r} is not a plain string or number; quote it in the YAML")
        return str(value)

    def _string_list(self, value: Any, where: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, "must be a list of non-empty strings")
        return tuple(value)

    def _formats(self, value: Any, where: str) -> tuple[str, ...]:
        formats = self._string_list(value, where)
        for fmt in formats:
            if fmt == EXCEL_SERIAL or fmt in _VALID_FORMATS:
                continue
            if "%" not in fmt:
                raise self.fail(where, f"{fmt!r} is neither a strptime format (with %) nor {EXCEL_SERIAL!r}")
            try:
                self._con.execute("select try_strptime('2024-01-01', ?)", [fmt]).fetchall()
            except duckdb.Error as exc:
                raise self.fail(where, f"bad format {fmt!r}: {_first_line(exc)}") from None
            _VALID_FORMATS.add(fmt)
        return formats

    def _check_pattern(self, pattern: str, where: str) -> None:
        posix, windows = PurePosixPath(pattern), PureWindowsPath(pattern)
        if posix.is_absolute() or windows.is_absolute() or windows.drive or pattern.startswith(("~", "\\")):
            raise self.fail(where, f"{pattern!r} must be relative to the landing folder")
        if ".." in posix.parts or ".." in windows.parts:
            raise self.fail(where, f"{pattern!r} must not leave the landing folder ('..')")

    def sql_expression(self, expr: Any, where: str) -> tuple[str, ...]:
        """Check that expr is one scalar SQL expression; return the source columns it reads."""
        if not isinstance(expr, str) or not expr.strip():
            raise self.fail(where, "must be a SQL expression")
        if ";" in expr:
            raise self.fail(where, "must be a single SQL expression (no ';')")
        bare = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", " ", expr)  # ignore literals and quoted names
        if "--" in bare or "/*" in bare:
            raise self.fail(where, "must not contain SQL comments")
        word = _FORBIDDEN_SQL_WORDS.search(bare)
        if word:
            raise self.fail(
                where, f"must be a single SQL expression, not a statement or query (found {word.group(0)!r})"
            )
        (serialized,) = self._con.execute("select json_serialize_sql(?)", [f"select ({expr}) as v"]).fetchone()
        tree = json.loads(serialized)
        if tree.get("error"):
            raise self.fail(where, f"not a valid SQL expression: {tree.get('error_message')}")
        statements = tree["statements"]
        node = statements[0]["node"] if len(statements) == 1 else {}
        plain_select = (
            node.get("type") == "SELECT_NODE"
            and node.get("from_table", {}).get("type") == "EMPTY"
            and not any(node.get(k) for k in ("modifiers", "where_clause", "group_expressions", "having", "qualify"))
        )
        if not plain_select or len(node["select_list"]) != 1 or _has_subquery(node["select_list"]):
            raise self.fail(where, "must be a single SQL expression (one value, no FROM, no subqueries)")
        columns = tuple(dict.fromkeys(_column_refs(node["select_list"])))
        # Bind it against stand-in VARCHAR source columns: catches unknown functions and type errors now.
        stand_ins = ", ".join(f"cast(null as varchar) as {quote_ident(c)}" for c in columns) or "1 as _"
        # In a child process under limits: binding folds constants, i.e. runs them (expr_check).
        error = bind_error(f"select ({expr}) from (select {stand_ins}) limit 0")
        if error is not None:
            raise self.fail(where, f"invalid SQL expression: {error}")
        return columns


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _has_subquery(tree: Any) -> bool:
    return any(n.get("class") == "SUBQUERY" or n.get("type") == "SELECT_NODE" for n in _walk(tree))


def _column_refs(tree: Any) -> list[str]:
    return [n["column_names"][-1] for n in _walk(tree) if n.get("class") == "COLUMN_REF"]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
