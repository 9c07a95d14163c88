"""The staging and marts suites in background threads after the build (orchestration/quality/
background.py): side by side, they give the results each gives alone, store them under the run,
and hand them, or their error, to the checks step that takes them."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from orchestration.quality import background, results_store, run_suite, runner
from orchestration.quality.asset_checks import audit
from orchestration.settings import get_settings
from tests.quality_support import build_marts_warehouse, copy_warehouse


def _facts(results):
    return sorted((r.layer, r.asset, r.check_name, r.passed, r.observed_value, r.details) for r in results)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The hand-made marts warehouse (with its staging orders) as a data dir's build, a rate above
    one seeded into it."""
    settings = get_settings(tmp_path_factory.mktemp("background"))
    build_marts_warehouse(settings.build_warehouse)
    with duckdb.connect(str(settings.build_warehouse)) as con:
        con.execute("update marts.mart_rep_kpi_monthly set win_rate = 1.3 where rep_id = 'R2'")
    return settings


def test_side_by_side_the_suites_give_what_each_gives_alone(build, tmp_path, monkeypatch):
    running, overlapped = set(), []
    real = runner._validate_source

    def watched(*args, **kwargs):  # notes whether another suite was validating at the same time
        me = threading.current_thread().name
        running.add(me)
        time.sleep(0.05)
        overlapped.append(len(running) > 1)
        try:
            return real(*args, **kwargs)
        finally:
            running.discard(me)

    monkeypatch.setattr(runner, "_validate_source", watched)
    background.start_after_build(build, "run-side-by-side", ["raw", "staging", "marts"])
    assert background.take("run-side-by-side", "raw") is None  # raw starts during the build, not here
    together = background.take("run-side-by-side", "staging") + background.take("run-side-by-side", "marts")
    assert any(overlapped)

    reference = copy_warehouse(build.build_warehouse, tmp_path / "build.duckdb")
    alone = [
        r
        for layer in ("staging", "marts")
        for r in run_suite(layer, reference, run_id="alone", quality_dir=tmp_path / "quality")
    ]
    assert _facts(together) == _facts(alone)
    assert {r.layer for r in together} == {"staging", "marts"}
    assert ("marts/mart_rep_kpi_monthly", "rates_within_0_1") in {
        (r.asset, r.check_name) for r in together if not r.passed
    }
    stored = results_store.latest_of_runs(build.quality_dir, {"run-side-by-side"})
    assert _facts(stored) == _facts(together)


def test_the_checks_step_takes_the_background_results_once(build, monkeypatch):
    background.start_after_build(build, "run-taken", ["marts"])
    taken = audit(build, "marts", run_id="run-taken")
    assert background.take("run-taken", "marts") is None  # taken once

    ran_in_the_step = []
    monkeypatch.setattr(background, "run_on_build", lambda *a, **k: ran_in_the_step.append(a) or [])
    audit(build, "marts", run_id="run-taken")  # nothing in the background any more: runs in the step
    assert len(ran_in_the_step) == 1
    assert {r.check_name for r in taken} and all(r.run_id == "run-taken" for r in taken)


def test_a_failed_background_suite_is_raised_by_the_checks_step(build, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("GX is down")

    monkeypatch.setattr(runner, "run_suite", broken)
    background.start_after_build(build, "run-broken", ["staging"])
    with pytest.raises(RuntimeError, match="GX is down"):
        audit(build, "staging", run_id="run-broken")
