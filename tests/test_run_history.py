"""The run history storage (orchestration/run_history.py): Dagster's SQLite event log with pooled
connections. It must be what dagster.yaml selects, store exactly what Dagster's own storage
stores (in files Dagster's own storage reads), and keep a bounded number of databases open."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.run_history import MAX_OPEN_DATABASES, PooledSqliteEventLogStorage
from orchestration.settings import PROJECT_ROOT


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3]


@dg.asset_check(asset=numbers)
def numbers_are_positive(numbers: list[int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=all(n > 0 for n in numbers))


@pytest.fixture
def home(tmp_path, monkeypatch):
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def run_once(instance) -> str:
    result = dg.materialize([numbers, numbers_are_positive], instance=instance)
    assert result.success
    return result.run_id


def test_dagster_yaml_selects_the_pooled_storage_under_dagster_home(home):
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is PooledSqliteEventLogStorage
        run_once(instance)
    # Dagster's default layout: the run shards and the index live in $DAGSTER_HOME/storage
    assert (home / "storage" / "index.db").exists()


def test_events_read_back_the_same_through_dagsters_own_storage(home):
    with dg.DagsterInstance.get() as instance:
        run_id = run_once(instance)
        stored = [(e.dagster_event_type, e.step_key) for e in instance.all_logs(run_id)]
    plain = SqliteEventLogStorage(str(home / "storage"))
    read_back = [(e.dagster_event_type, e.step_key) for e in plain.get_logs_for_run(run_id)]
    assert read_back == stored
    kinds = {kind for kind, _ in stored}
    assert {
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        dg.DagsterEventType.RUN_SUCCESS,
    } <= kinds
    # the cross-run index (latest materialization, check history) is written too
    assert plain.get_latest_materialization_events([dg.AssetKey("numbers")])[dg.AssetKey("numbers")] is not None


def test_open_databases_stay_bounded_and_wipe_starts_clean(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_ids = [run_once(instance) for _ in range(MAX_OPEN_DATABASES + 2)]
        assert len(storage._engines) <= MAX_OPEN_DATABASES
        # an evicted run's database is reopened on demand
        assert len(instance.all_logs(run_ids[0])) > 0
        instance.wipe()
        assert set(storage._engines) <= {"index"}  # only the index, reopened to empty it
        assert instance.all_logs(run_ids[-1]) == []
        assert len(instance.all_logs(run_once(instance))) > 0


def test_the_table_lookup_of_every_check_event_is_asked_of_sqlite_once(home, monkeypatch):
    asked = []
    dagster_has_table = SqliteEventLogStorage.has_table

    def counting(self, table_name):
        asked.append(table_name)
        return dagster_has_table(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting)
    with dg.DagsterInstance.get() as instance:
        for _ in range(3):
            run_once(instance)  # each run: a check planned and evaluated
        assert instance.event_log_storage.supports_asset_checks
        assert asked.count("asset_check_executions") == 1  # Dagster's own: once per check event
        assert instance.event_log_storage.has_table("no_such_table") is False
        assert instance.event_log_storage.has_table("no_such_table") is False
        assert asked.count("no_such_table") == 2  # a missing table is asked again
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_are_positive"), limit=10
        )
        assert len(history) == 3


def test_events_reuse_one_engine_per_database(home, monkeypatch):
    # Dagster's own storage makes an engine per stored event; if an upgrade bypasses the pooled
    # _connect, no engine is asked for here and this fails
    asked, pooled_engine = [], PooledSqliteEventLogStorage._engine

    def counting(self, shard):
        engine = pooled_engine(self, shard)
        asked.append(engine)
        return engine

    monkeypatch.setattr(PooledSqliteEventLogStorage, "_engine", counting)
    with dg.DagsterInstance.get() as instance:
        run_ids = [run_once(instance) for _ in range(2)]
        events = sum(len(instance.all_logs(run_id)) for run_id in run_ids)
    engines = {id(engine) for engine in asked}
    assert 1 <= len(engines) <= 3  # two run shards and the index
    assert events >= 20 and len(asked) >= events  # every stored event through a reused engine


def _synchronous(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("pragma synchronous").scalar()


def test_skipping_fsync_applies_to_the_instances_run_history_only(home):
    import sqlalchemy as sa

    from orchestration.runner import relax_run_history_fsync

    FULL, OFF = 2, 0  # SQLite's default and the relaxed setting
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_id = run_once(instance)
        assert _synchronous(storage._engine(run_id)) == FULL
        relax_run_history_fsync(instance)
        assert _synchronous(storage._engine(run_id)) == OFF  # the engines opened before too
        relaxed = run_once(instance)
        assert _synchronous(storage._engine(relaxed)) == _synchronous(storage._engine("index")) == OFF
        other = sa.create_engine(f"sqlite:///{home / 'storage' / 'index.db'}")  # not process-wide
        try:
            assert _synchronous(other) == FULL
        finally:
            other.dispose()
    with dg.DagsterInstance.get() as fresh:  # another instance on the same home waits for the disk
        assert _synchronous(fresh.event_log_storage._engine("index")) == FULL
