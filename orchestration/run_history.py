"""Dagster's SQLite event log, with one connection pool per database instead of one engine per event.

Dagster's `SqliteEventLogStorage` creates (and disposes) a SQLAlchemy engine for every event it
stores, and a salesdw run stores about 1,600 (one per step, asset and asset check, planned and
done). Measured on this 2-core machine, a scale-1 run spent about 10 s of its ~50 s there
(`bench/`, `make bench`). This subclass keeps the engines, one per database file (the run's shard
and the cross-run index), in a small LRU cache, and remembers which tables exist (Dagster asks
with yet another engine for every asset check event); everything else (schema, sharding,
watchers) is Dagster's own. dagster.yaml selects it; production instances keep run history in
PostgreSQL.

Idle pooled connections hold no SQLite lock, so `dagster dev`, the daemon and CLI runs still share
the files safely; the cache is bounded so a long-lived webserver does not keep every run's file open.

`skip_fsync()` lets SQLite skip fsync on this storage's own connections (the CLI's runs ask for it,
orchestration/runner.py); no other SQLite connection of the process is touched.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

SQLITE_BUSY_TIMEOUT_SECONDS = 30  # as Dagster's own storage waits for a lock
MAX_OPEN_DATABASES = 8


def _no_fsync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("pragma synchronous = OFF")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage that reuses one engine (and its pooled connection) per database file.

    dagster.yaml:

        event_log_storage:
          module: orchestration.run_history
          class: PooledSqliteEventLogStorage

    base_dir defaults to $DAGSTER_HOME/storage, where Dagster's default SQLite storage keeps them.
    """

    def __init__(self, base_dir: str | None = None, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        self._fsync = True
        if base_dir is None:
            if not os.environ.get("DAGSTER_HOME"):
                raise ValueError("PooledSqliteEventLogStorage: set DAGSTER_HOME (the instance folder) or base_dir")
            base_dir = os.path.join(os.environ["DAGSTER_HOME"], "storage")
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            if not self._fsync:
                event.listen(engine, "connect", _no_fsync)
            self._engines[shard] = engine
            while len(self._engines) > MAX_OPEN_DATABASES:
                _, evicted = self._engines.popitem(last=False)
                evicted.dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Same contract as the parent's: serialised by _db_lock, one transaction per use, the
        # database created on first use. Only the engine outlives the call.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def skip_fsync(self) -> None:
        """From now on, commit without waiting for the disk (`pragma synchronous = OFF`) on this
        storage's connections, and only on them.

        Dagster stores ~2,000 events a run, each committed; at ~5 ms an fsync that was about a third
        of a small run's wall time (measured by bench/, `make bench`). The run history records what
        happened; the data itself (raw zone, ledger, warehouses) does not live here. Without fsync an
        application crash loses nothing; only an operating-system crash or power cut could lose or
        damage the latest run's history. Production instances keep run history in PostgreSQL."""
        self._fsync = False
        self._dispose_engines()  # connections opened before would keep waiting for the disk

    def has_table(self, table_name: str) -> bool:
        """Dagster asks with a new engine and connection every time, and asks for every asset
        check event it stores (`supports_asset_checks`): a third of the time a check result took
        (py-spy). A table, once there, stays until `wipe`; a missing one is asked again."""
        if table_name not in self._tables_found and super().has_table(table_name):
            self._tables_found.add(table_name)
        return table_name in self._tables_found

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._tables_found.clear()
        self._dispose_engines()  # the run shards' files are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
