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


def _planned_and_stored(home, monkeypatch, batch_size: str | None):
    """A run of `numbers` and its check with DAGSTER_EVENT_BATCH_SIZE as given: its events as
    Dagster's own storage reads them back, the planned events first, and the commits per file."""
    import sqlalchemy as sa

    if batch_size is None:
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    else:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    commits = []
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        sa.event.listen(storage._engine("index"), "commit", lambda conn: commits.append("index"))
        run_id = run_once(instance)
    plain = SqliteEventLogStorage(str(home / "storage"))
    events = [
        (
            e.dagster_event_type,
            e.step_key,
            getattr(getattr(e.dagster_event, "event_specific_data", None), "check_name", None),
        )
        for e in plain.get_logs_for_run(run_id)
    ]
    check_key = dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_are_positive")
    history = plain.get_asset_check_execution_history(check_key, limit=10)
    planned = plain.get_latest_planned_materialization_info(dg.AssetKey("numbers"))
    return events, [h.status for h in history], planned is not None and planned.run_id == run_id, len(commits)


def test_a_batch_of_planned_events_is_stored_as_dagster_stores_them_one_by_one(home, monkeypatch):
    one_by_one = _planned_and_stored(home, monkeypatch, None)
    batched = _planned_and_stored(home, monkeypatch, "1000")
    assert batched[0] == one_by_one[0]  # the same events, in the same order
    assert dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED in {kind for kind, _, _ in batched[0]}
    assert batched[1][0] == one_by_one[1][0]  # the check's execution record, planned then evaluated
    assert batched[2] and one_by_one[2]  # the planned materialization in the cross-run index
    assert batched[3] < one_by_one[3]  # fewer index commits: the planned ones share a transaction


def test_a_failing_batch_keeps_none_of_its_events(home, monkeypatch):
    from dagster._core.events.log import EventLogEntry

    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_id = run_once(instance)
        events = list(instance.all_logs(run_id))
        stored = len(events)
        broken = EventLogEntry(**{**events[0]._asdict(), "run_id": run_id})
        real = PooledSqliteEventLogStorage.store_event

        def fail_on_the_last(self, event):
            if event is broken:
                raise RuntimeError("disk full")
            return real(self, event)

        monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event", fail_on_the_last)
        with pytest.raises(RuntimeError, match="disk full"):
            storage.store_event_batch([*events[:3], broken])
        assert len(instance.all_logs(run_id)) == stored  # the three stored first were rolled back
        storage.store_event_batch(events[:3])
        assert len(instance.all_logs(run_id)) == stored + 3
