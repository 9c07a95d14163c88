"""The raw zone's views (ingestion/raw_zone.py expose): created again only when their definition changes.

Creating a raw view binds its query, which reads the footer of every Parquet batch of its entity;
the build warehouse gets the views from the ingest step and again from the dbt step. These tests
record the statements `expose` sends to a real DuckDB file.
"""

from __future__ import annotations

import duckdb

from ingestion.canonical import ENTITIES
from ingestion.raw_zone import expose
from tests.support import write_raw_batch


class _Recording:
    """A DuckDB connection that remembers the statements sent to it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, []

    def execute(self, sql: str, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def created(self) -> list[str]:
        return [s.split()[4] for s in self.statements if s.startswith("create or replace view")]


def test_views_are_created_again_only_when_their_definition_changes(tmp_path):
    raw_dir, quality_dir = tmp_path / "raw", tmp_path / "quality"
    write_raw_batch(raw_dir, "orders", [{"order_id": "O1"}], batch_id="b1")
    every_view = {f"raw.{name}" for name in ENTITIES} | {"quality.ingestion_ledger", "quality.quarantine"}
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        first = _Recording(con)
        expose(first, raw_dir, quality_dir)
        assert set(first.created()) == every_view

        again = _Recording(con)
        expose(again, raw_dir, quality_dir)
        assert again.created() == []  # the same files, the same definitions: nothing bound again

        # a new batch of an entity with batches keeps its view's definition; the first batch of an
        # entity changes it (its view read no Parquet before)
        write_raw_batch(raw_dir, "orders", [{"order_id": "O2"}], batch_id="b2")
        write_raw_batch(raw_dir, "teams", [{"team_id": "T1"}], batch_id="b3")
        changed = _Recording(con)
        expose(changed, raw_dir, quality_dir)
        assert changed.created() == ["raw.teams"]
        assert con.execute("select count(*) from raw.orders").fetchone() == (2,)
        assert con.execute("select _batch_id from raw.teams").fetchall() == [("b3",)]


def test_a_view_replaced_by_someone_else_is_created_again(tmp_path):
    raw_dir, quality_dir = tmp_path / "raw", tmp_path / "quality"
    write_raw_batch(raw_dir, "orders", [{"order_id": "O1"}], batch_id="b1")
    with duckdb.connect(str(tmp_path / "build.duckdb")) as con:
        expose(con, raw_dir, quality_dir)
        con.execute("create or replace view raw.orders as select 1 as order_id")
        recording = _Recording(con)
        expose(recording, raw_dir, quality_dir)
        assert recording.created() == ["raw.orders"]
        assert con.execute("select _batch_id from raw.orders").fetchall() == [("b1",)]
