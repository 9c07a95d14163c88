"""The marts' copy written while the checks run (publish.prepare): the publish takes it only for the
build it was copied from, writes the file anew otherwise, and no prepared copy outlives a refused or
skipped publish. Real DuckDB files; the copy is counted by wrapping the function that writes it."""

from __future__ import annotations

import stat

import duckdb
import pytest

from orchestration import publish as publishing
from orchestration.publish import PublishRefused, discard_prepared, prepare, publish
from orchestration.quality import results_store
from orchestration.settings import get_settings
from tests.quality_support import stamp_passing_audit
from tests.test_publish import failed_result, make_build, sha


@pytest.fixture
def settings(tmp_path):
    return get_settings(tmp_path)


@pytest.fixture
def copies(monkeypatch) -> list[int]:
    """The rows of mart_demo in every marts' copy written, by the prepare thread or the publish."""
    written: list[int] = []
    write = publishing._write_marts

    def counted(settings, staged):
        rows = write(settings, staged)
        written.append(rows["mart_demo"])
        return rows

    monkeypatch.setattr(publishing, "_write_marts", counted)
    return written


def audited_build(settings, rows: int, run_id: str) -> None:
    """A build of `rows` rows of mart_demo that run_id built and whose suites passed."""
    make_build(settings, rows)
    stamp_passing_audit(settings, run_id)


def prepared_copy(settings, rows: int, run_id: str) -> None:
    """An audited build and the marts' copy prepare() made of it, finished."""
    audited_build(settings, rows, run_id)
    prepare(settings, run_id)
    publishing._prepared[run_id].result()


def staged_files(settings) -> list[str]:
    return sorted(p.name for p in settings.warehouse_dir.glob("sales.duckdb.tmp*"))


def published_rows(settings) -> int:
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        return con.execute("select count(*) from marts.mart_demo").fetchone()[0]


def test_the_copy_prepared_during_the_audit_is_the_one_published(settings, copies):
    audited_build(settings, 5, "run-1")
    prepare(settings, "run-1")
    record = publish(settings, "run-1")
    assert copies == [5]  # written once, by the prepare thread
    assert record.mart_rows == {"mart_demo": 5} and published_rows(settings) == 5
    with duckdb.connect(str(settings.serving_warehouse), read_only=True) as con:
        layers = sorted(r[0] for r in con.execute("select layer from quality.check_results").fetchall())
    assert layers == ["marts", "raw", "staging"]  # the quality tables are added at the publish
    assert stat.S_IMODE(settings.serving_warehouse.stat().st_mode) == 0o644
    assert staged_files(settings) == []


def test_the_prepared_copy_is_owner_only_until_the_publish(settings, copies):
    prepared_copy(settings, 5, "run-1")  # the copy is written; the publish has not decided yet
    assert staged_files(settings) == ["sales.duckdb.tmp"]
    staged = settings.warehouse_dir / "sales.duckdb.tmp"
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    assert not settings.serving_warehouse.exists()


def test_a_build_changed_after_the_copy_is_published_from_a_new_copy(settings, copies):
    prepared_copy(settings, 5, "run-1")
    make_build(settings, 7)  # rebuilt under the same stamp: its size and modification time differ
    assert publish(settings, "run-1").mart_rows == {"mart_demo": 7}
    assert copies == [5, 7] and published_rows(settings) == 7


def test_a_build_of_another_run_is_published_from_a_new_copy(settings, copies):
    prepared_copy(settings, 5, "run-1")
    audited_build(settings, 9, "run-2")  # its audit decides whichever run publishes
    assert publish(settings, "run-1").mart_rows == {"mart_demo": 9}
    assert copies == [5, 9] and published_rows(settings) == 9


def test_a_refused_publish_deletes_the_prepared_copy(settings, copies):
    audited_build(settings, 5, "run-1")
    publish(settings, "run-1")
    before = sha(settings.serving_warehouse)
    audited_build(settings, 2, "run-2")
    results_store.append(settings.quality_dir, [failed_result("run-2")])
    prepare(settings, "run-2")
    with pytest.raises(PublishRefused, match="row_count_change"):
        publish(settings, "run-2")
    assert copies == [5, 2]  # run-2's copy was written, and then deleted unused
    assert staged_files(settings) == [] and sha(settings.serving_warehouse) == before


def test_a_copy_whose_publish_never_ran_is_discarded(settings, copies):
    audited_build(settings, 5, "run-1")
    prepare(settings, "run-1")  # then a check step fails and the publish step is skipped
    discard_prepared(settings, "run-1")
    assert copies == [5] and staged_files(settings) == []
    assert not settings.serving_warehouse.exists()
    assert publish(settings, "run-1").mart_rows == {"mart_demo": 5}  # a later publish writes its own
    assert copies == [5, 5]
