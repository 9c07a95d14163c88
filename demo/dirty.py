"""Dirty mode: every kind of bad input of exports.md's "Bad input" table, a known number of times,
each recorded in the manifest with the outcome the warehouse must give.

Bad rows are inserted between the clean rows of the normal files (the clean rows stay exactly as
in a clean run); bad files are extra files in the entity folders. Injected rows get fresh keys
(`<id>-X<n>`, or line numbers from 90 on), so a wrongly loaded bad row never overwrites a clean one.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.exports import Exports, FileRecord
from demo.period import rng_for
from ingestion.canonical import ENTITIES

QUARANTINED, LOADED = "quarantined", "loaded"
ORDER_UPDATES = 10


@dataclass(frozen=True)
class RowDefect:
    kind: str
    entity: str
    column: str
    bad_value: Callable[[dict], str]  # from the clean template row
    outcome: str = QUARANTINED
    also: tuple[tuple[str, str], ...] = ()  # further (valid) values the row needs


def _year(column: str) -> Callable[[dict], str]:
    return lambda row: (row[column] or "2024")[:4]


def _gross_plus_ten(row: dict) -> str:
    gross = Decimal(row["quantity"]) * Decimal(row["unit_price"])
    return f"{gross + Decimal('10.00'):.2f}"


# Three of each row-level kind, spread over several entities and columns.
# (a line with quantity <= 0 carries no discount, so only its quantity rule breaks)
_NO_DISCOUNT = (("discount_amount", ""),)
ROW_DEFECTS: tuple[RowDefect, ...] = (
    RowDefect("empty_required", "orders", "account_id", lambda r: ""),
    RowDefect("empty_required", "order_lines", "product_id", lambda r: ""),
    RowDefect("empty_required", "activities", "rep_id", lambda r: ""),
    RowDefect("unparseable_date", "orders", "order_date", lambda r: _year("order_date")(r) + "-02-30"),
    RowDefect("unparseable_date", "activities", "occurred_at", lambda r: _year("occurred_at")(r) + "-13-05 10:00:00"),
    RowDefect("unparseable_date", "survey_responses", "submitted_at", lambda r: "昨天 10:00"),
    RowDefect("unparseable_number", "order_lines", "unit_price", lambda r: "12.5.1"),
    RowDefect("unparseable_number", "expenses", "amount", lambda r: "1O0.00"),
    RowDefect("unparseable_number", "opportunities", "amount", lambda r: "abc"),
    RowDefect("unknown_enum", "orders", "status", lambda r: "shipped"),
    RowDefect("unknown_enum", "activities", "activity_type", lambda r: "fax"),
    RowDefect("unknown_enum", "leads", "status", lambda r: "hot"),
    RowDefect("nonpositive_quantity", "order_lines", "quantity", lambda r: "0", also=_NO_DISCOUNT),
    RowDefect("nonpositive_quantity", "order_lines", "quantity", lambda r: "-2", also=_NO_DISCOUNT),
    RowDefect("nonpositive_quantity", "order_lines", "quantity", lambda r: "-1", also=_NO_DISCOUNT),
    RowDefect("discount_exceeds_gross", "order_lines", "discount_amount", _gross_plus_ten),
    RowDefect("discount_exceeds_gross", "order_lines", "discount_amount", _gross_plus_ten),
    RowDefect("discount_exceeds_gross", "order_lines", "discount_amount", _gross_plus_ten),
    RowDefect("score_out_of_range", "survey_responses", "score", lambda r: "11", also=(("survey_type", "nps"),)),
    RowDefect("score_out_of_range", "survey_responses", "score", lambda r: "0", also=(("survey_type", "csat"),)),
    RowDefect("score_out_of_range", "survey_responses", "score", lambda r: "6", also=(("survey_type", "csat"),)),
    # not ISO 4217 codes (another currency's code loads: staging converts it)
    RowDefect("wrong_currency", "orders", "currency", lambda r: "US$"),
    RowDefect("wrong_currency", "expenses", "currency", lambda r: "HK$"),
    RowDefect("wrong_currency", "opportunities", "currency", lambda r: "EURO"),
)
UNKNOWN_ACCOUNT_ORDERS = 3  # late-arriving references: they load


class DirtyInjector:
    """Inserts the bad rows into the first non-empty chunk of each affected entity and writes the
    bad files at the end; `defects` is the manifest's exact list."""

    def __init__(self, seed: int, n_accounts: int):
        self.rng = rng_for(seed, "dirty")
        self.defects: list[dict] = []
        self.pending: dict[str, list[RowDefect]] = {}
        for defect in ROW_DEFECTS:
            self.pending.setdefault(defect.entity, []).append(defect)
        for k in range(1, UNKNOWN_ACCOUNT_ORDERS + 1):
            # an account id past the last one; pending, so the sales marts are unaffected
            unknown_id = f"ACC{n_accounts + k:06d}"
            self.pending["orders"].append(
                RowDefect(
                    "unknown_account",
                    "orders",
                    "account_id",
                    lambda row, value=unknown_id: value,
                    outcome=LOADED,
                    also=(("status", "pending"),),
                )
            )
        self.order_templates: out.Table | None = None

    def inject(self, entity: str, file: str, table: out.Table, rows_before: int) -> out.Table:
        defects = self.pending.get(entity)
        n = out.table_rows(table)
        if not defects or n == 0:
            return table
        del self.pending[entity]
        if entity == "orders":
            self.order_templates = out.take_rows(table, np.arange(min(n, 5)))
        columns = list(table)
        key = ENTITIES[entity].key
        pieces: dict[str, list[pa.Array]] = {c: [] for c in columns}
        cursor = 0
        for j, defect in enumerate(defects):
            template_at = min(((j + 1) * n) // (len(defects) + 1), n - 1)
            for c in columns:
                pieces[c].append(table[c].slice(cursor, template_at + 1 - cursor))
            cursor = template_at + 1
            row = {c: table[c][template_at].as_py() for c in columns}
            serial = j + 1
            if key == ("order_id", "line_number"):
                row["line_number"] = str(89 + serial)
            else:
                row[key[0]] = f"{row[key[0]]}-X{serial}"
            for column, value in defect.also:
                row[column] = value
            bad = defect.bad_value(row)
            row[defect.column] = bad
            for c in columns:
                pieces[c].append(pa.array([row[c] if row[c] != "" else None], pa.string()))
            self.defects.append(
                {
                    "kind": defect.kind,
                    "entity": entity,
                    "file": file,
                    "row_number": rows_before + template_at + 1 + j + 1,
                    "column": defect.column,
                    "value": bad,
                    "reason_keyword": defect.column,
                    "key": {k: row[k] for k in key},
                    "outcome": defect.outcome,
                }
            )
        for c in columns:
            pieces[c].append(table[c].slice(cursor))
        return {c: pa.concat_arrays(pieces[c]) for c in columns}

    def finish(self, exports: Exports, pending_orders: list[out.Table], completed_orders: out.Table | None) -> None:
        """The extra files: re-sent orders, and one of each bad file."""
        exports.close()
        for record in exports.files.values():
            record.rows_quarantined = sum(
                1 for d in self.defects if d["file"] == record.file and d["outcome"] == QUARANTINED
            )
        self._order_updates(exports, pending_orders, completed_orders)
        self._bad_files(exports)

    def _order_updates(self, exports: Exports, pending_orders, completed_orders) -> None:
        """A second orders file re-sending some orders with a newer status (pending -> completed or
        cancelled; completed -> cancelled when nothing is pending)."""
        if pending_orders:
            base = {c: pa.concat_arrays([t[c] for t in pending_orders]) for c in pending_orders[0]}
            new_status = np.where(self.rng.random(out.table_rows(base)) < 0.8, "completed", "cancelled")
        elif completed_orders is not None:
            base = completed_orders
            new_status = np.full(out.table_rows(base), "cancelled")
        else:
            return
        chosen = np.sort(self.rng.permutation(out.table_rows(base))[:ORDER_UPDATES])
        updates = out.take_rows(base, chosen)
        previous = updates["status"].to_pylist()
        updates["status"] = pa.array(new_status[chosen].tolist(), pa.string())
        path = exports.out_dir / "orders" / "orders_update.csv"
        with exports.open("orders", path) as sink:
            sink.write(updates)
        file = exports.relative(path)
        exports.record(FileRecord("orders", file, "csv", len(chosen)))
        for i, (order_id, was, now) in enumerate(zip(updates["order_id"].to_pylist(), previous, new_status[chosen])):
            self.defects.append(
                {
                    "kind": "order_status_update",
                    "entity": "orders",
                    "file": file,
                    "row_number": i + 1,
                    "column": "status",
                    "value": str(now),
                    "previous_value": was,
                    "reason_keyword": None,
                    "key": {"order_id": order_id},
                    "outcome": LOADED,
                }
            )

    def _bad_files(self, exports: Exports) -> None:
        root = exports.out_dir

        def rejected(entity: str, path, fmt: str, kind: str, reason_keyword: str | None, rows=None):
            file = exports.relative(path)
            exports.record(FileRecord(entity, file, fmt, rows, status="rejected"))
            self.defects.append(
                {
                    "kind": kind,
                    "entity": entity,
                    "file": file,
                    "row_number": None,
                    "column": reason_keyword,
                    "value": None,
                    "reason_keyword": reason_keyword,
                    "key": None,
                    "outcome": "rejected",
                }
            )

        # a CSV without a required column
        missing = "order_date"
        path = root / "orders" / "orders_missing_column.csv"
        templates = self.order_templates
        columns = [c for c in ENTITIES["orders"].column_names if c != missing]
        rows = dict(templates) if templates is not None else {}
        if rows:
            rows["order_id"] = out.join(rows["order_id"], "-M")
        with out.CsvSink(path, columns) as sink:
            sink.write({c: v for c, v in rows.items() if c in columns})
        rejected("orders", path, "csv", "missing_required_column", missing, rows=sink.rows)

        # not a CSV at all: PNG bytes under a .csv name
        path = root / "activities" / "activities_export.csv"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + self.rng.integers(0, 256, 512, dtype=np.uint8).tobytes())
        rejected("activities", path, "csv", "not_csv", None)

        # a corrupt workbook: a truncated copy of the budgets workbook (or CSV when too big for one)
        budgets = exports.main_file("budgets")
        source = root / budgets.file
        data = source.read_bytes()
        path = root / "budgets" / f"budgets_corrupt{source.suffix}"
        path.write_bytes(data[: len(data) // 2] if source.suffix == ".xlsx" else b"\x00\xff" * 64)
        kind = "corrupt_xlsx" if source.suffix == ".xlsx" else "not_csv"
        rejected("budgets", path, source.suffix.lstrip("."), kind, None)

        # an empty file
        path = root / "leads" / "leads_empty.csv"
        path.write_bytes(b"")
        rejected("leads", path, "csv", "empty_file", None, rows=0)

        # the same file landed twice under another name: skipped as a duplicate
        twin = root / "expenses" / "expenses.csv"
        path = root / "expenses" / "expenses_resent.csv"
        shutil.copyfile(twin, path)
        file = exports.relative(path)
        exports.record(
            FileRecord("expenses", file, "csv", exports.files["expenses/expenses.csv"].rows, status="duplicate_file")
        )
        self.defects.append(
            {
                "kind": "duplicate_file",
                "entity": "expenses",
                "file": file,
                "row_number": None,
                "column": None,
                "value": None,
                "reason_keyword": None,
                "key": None,
                "outcome": "duplicate_file",
                "duplicate_of": exports.relative(twin),
            }
        )
