"""The set of files one generation writes, and what ingestion must make of each (for the manifest)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from demo.output import CsvSink, Table
from ingestion.canonical import ENTITIES

# At the top of the output directory, outside the entity folders, so ingestion never reads it.
MANIFEST_NAME = "_manifest.json"


def read_manifest(out_dir: Path) -> dict:
    return json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))


def write_manifest(out_dir: Path, manifest: dict) -> Path:
    path = out_dir / MANIFEST_NAME
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass
class FileRecord:
    entity: str
    file: str  # relative to the output directory, POSIX separators
    format: str  # csv | xlsx
    rows: int | None  # data rows (header excluded); None for files that are not a table
    status: str = "loaded"  # the expected ledger status: loaded | rejected | duplicate_file
    rows_quarantined: int = 0

    def manifest(self) -> dict:
        read = self.rows if self.status == "loaded" else 0
        return {
            "entity": self.entity,
            "file": self.file,
            "format": self.format,
            "rows": self.rows,
            "expected": {
                "status": self.status,
                "rows_read": read,
                "rows_loaded": read - self.rows_quarantined,
                "rows_quarantined": self.rows_quarantined,
            },
        }


class RowInjector(Protocol):
    def inject(self, entity: str, file: str, table: Table, rows_before: int) -> Table: ...


class Exports:
    """Opens one CSV per entity on first write (`<entity>/<entity>.csv`), lets dirty mode slip bad
    rows into the stream, and keeps the record of every file written."""

    def __init__(self, out_dir: Path, injector: RowInjector | None = None):
        self.out_dir = out_dir
        self.injector = injector
        self.files: dict[str, FileRecord] = {}
        self._sinks: dict[str, CsvSink] = {}

    def relative(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()

    def write(self, entity: str, table: Table) -> None:
        sink = self._sinks.get(entity)
        if sink is None:
            sink = self.open(entity, self.out_dir / entity / f"{entity}.csv")
            self._sinks[entity] = sink
        if self.injector is not None:
            table = self.injector.inject(entity, self.relative(sink.path), table, sink.rows)
        sink.write(table)

    def open(self, entity: str, path: Path) -> CsvSink:
        """A CSV sink for an extra file of an entity; recorded when closed."""
        return CsvSink(path, ENTITIES[entity].column_names)

    def close(self) -> None:
        for entity, sink in self._sinks.items():
            sink.close()
            self.record(FileRecord(entity, self.relative(sink.path), "csv", sink.rows))
        self._sinks.clear()

    def record(self, record: FileRecord) -> None:
        self.files[record.file] = record

    def main_file(self, entity: str) -> FileRecord:
        return next(r for r in self.files.values() if r.entity == entity and r.file.startswith(f"{entity}/{entity}."))
