"""The raw suite in the background while dbt builds (orchestration/quality/raw_audit.py): the same
results as the suite on the build warehouse, without ever opening the build warehouse (dbt holds
it for writing), and its error raised where the checks step takes it."""

from __future__ import annotations

import pytest

from ingestion.raw_zone import expose_file
from orchestration.quality import raw_audit, results_store, run_suite
from orchestration.quality.suites import load_suite
from orchestration.settings import Settings, get_settings
from tests.support import write_raw_batch
from tests.test_quality_raw import _write_clean_zone


def _facts(results):
    return sorted((r.asset, r.check_name, r.passed, r.observed_value, r.details) for r in results)


@pytest.fixture(scope="module")
def zone(tmp_path_factory):
    """The clean raw zone of test_quality_raw, plus an order line with quantity -1."""
    data_dir = tmp_path_factory.mktemp("raw_audit")
    _write_clean_zone(data_dir)
    write_raw_batch(
        data_dir / "raw",
        "order_lines",
        [
            {"order_id": "O2", "line_number": 1, "product_id": "P1", "quantity": "-1", "unit_price": "10"},
        ],
    )
    return get_settings(data_dir)


def test_the_background_audit_reads_its_own_file_and_gives_the_suite_s_results(zone, tmp_path):
    settings = zone
    assert not settings.build_warehouse.exists()  # never needed, so never opened: dbt may write it
    future = raw_audit.start(settings, "run-bg")
    assert raw_audit.start(settings, "run-bg") is future  # once per run
    background = raw_audit.take("run-bg")
    assert not settings.build_warehouse.exists()
    assert not raw_audit.audit_file(settings, "run-bg").exists()  # removed afterwards
    assert list(settings.temp_dir.glob("raw_audit_*")) == []

    # the same suite, the usual way: on the raw views of a build warehouse, in another data dir
    reference = get_settings(tmp_path)
    expose_file(reference.build_warehouse, settings.raw_dir, settings.quality_dir)
    expected = run_suite("raw", reference.build_warehouse, run_id="reference", quality_dir=reference.quality_dir)
    assert len(background) == len(load_suite("raw"))
    assert _facts(background) == _facts(expected)
    failed = [(r.asset, r.check_name) for r in background if not r.passed]
    assert ("raw/order_lines", "row_rules_hold") in failed  # the seeded defect is caught
    # and stored under the run, where the publish looks for blocking failures
    assert ("raw/order_lines", "row_rules_hold") in {
        (r.asset, r.check_name) for r in results_store.blocking_failures(settings.quality_dir, "run-bg")
    }


def test_take_is_none_for_a_run_that_started_no_audit():
    assert raw_audit.take("never-started") is None


def test_a_failed_background_audit_is_raised_by_take(zone, monkeypatch):
    from orchestration.quality import runner

    def broken(*args, **kwargs):
        raise RuntimeError("GX is down")

    monkeypatch.setattr(runner, "run_suite", broken)
    raw_audit.start(zone, "run-broken")
    with pytest.raises(RuntimeError, match="GX is down"):
        raw_audit.take("run-broken")
    assert raw_audit.take("run-broken") is None  # taken once
    assert not raw_audit.audit_file(zone, "run-broken").exists()


@pytest.mark.parametrize(
    "configured, quarter",
    [  # DuckDB reads GB/G/M as powers of 1000, GiB of 1024
        ("1GB", "238MiB"),
        ("1G", "238MiB"),
        ("500M", "119MiB"),
        ("2GiB", "512MiB"),
        ("100MB", "64MiB"),
    ],
)
def test_it_keeps_to_a_quarter_of_the_memory_limit_and_one_thread(tmp_path, configured, quarter):
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit=configured)
    limits = raw_audit.limits(settings)
    assert limits == {**settings.duckdb_limits(), "memory_limit": quarter, "threads": 1}


def test_a_share_of_the_machine_s_memory_is_a_quarter_of_that_share(tmp_path):
    total_mib = int(open("/proc/meminfo").read().split("MemTotal:")[1].split()[0]) / 1024
    limit = raw_audit.limits(Settings(data_dir=tmp_path, duckdb_memory_limit="80%"))["memory_limit"]
    assert limit.endswith("MiB") and 0.19 * total_mib <= int(limit[:-3]) <= 0.21 * total_mib
