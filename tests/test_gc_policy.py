"""The garbage-collector policy of a one-run process (orchestration/gc_policy.py).

Each case runs in its own interpreter: a frozen object stays frozen, which must never happen to
a pytest worker's objects.
"""

from __future__ import annotations

from tests.support import probe_in_fresh_interpreter as _probe


def test_outside_a_one_run_process_nothing_is_frozen():
    seen = _probe("""
        import gc, json
        from orchestration import gc_policy
        before = gc.get_freeze_count()
        with gc_policy.long_lived_imports():
            inside = gc.isenabled()
            kept = [[i] for i in range(10_000)]
        print(json.dumps({"frozen": gc.get_freeze_count() - before, "inside": inside}))
    """)
    assert seen == {"frozen": 0, "inside": True}


def test_a_one_run_process_freezes_what_the_block_built_and_collects_the_rest():
    seen = _probe("""
        import gc, json
        from orchestration import gc_policy
        gc_policy.enable_for_this_process()
        before = gc.get_freeze_count()
        with gc_policy.long_lived_imports():
            inside = gc.isenabled()
            kept = [[i] for i in range(10_000)]
        frozen = gc.get_freeze_count() - before
        # a reference cycle made after the block is still found by the collector
        cycle = []; cycle.append(cycle); del cycle
        print(json.dumps({"frozen": frozen, "inside": inside, "after": gc.isenabled(),
                          "collected": gc.collect()}))
    """)
    assert not seen["inside"]  # no collection while importing
    assert seen["frozen"] >= 10_001  # the 10,000 inner lists and the outer one, at least
    assert seen["after"]
    assert seen["collected"] >= 1


def test_the_cli_run_enables_it_and_freezes_dagster_before_the_run(tmp_path):
    seen = _probe(f"""
        import gc, json, os
        import orchestration.runner as runner
        from orchestration import gc_policy
        from orchestration.cli import _run
        from orchestration.settings import get_settings
        def fake_run_pipeline(settings, **kwargs):  # what the run starts with
            print(json.dumps({{"enabled": gc_policy.is_enabled(), "frozen": gc.get_freeze_count(),
                              "gc_on": gc.isenabled()}}), flush=True)
            os._exit(0)
        runner.run_pipeline = fake_run_pipeline
        _run(get_settings({str(tmp_path / "data")!r}), landing=None, profile="canonical")
    """)
    assert seen["enabled"] and seen["gc_on"]
    assert seen["frozen"] > 100_000  # Dagster, dagster-dbt and dbt's objects


def test_great_expectations_is_frozen_once_loaded_in_a_one_run_process():
    code = """
        import gc, json
        import orchestration.definitions
        from orchestration import gc_policy
        {enable}
        before = gc.get_freeze_count()
        from orchestration.quality.gx_startup import gx_context
        gx_context()
        print(json.dumps({{"frozen": gc.get_freeze_count() - before}}))
    """
    assert _probe(code.format(enable="gc_policy.enable_for_this_process()"))["frozen"] > 100_000
    assert _probe(code.format(enable=""))["frozen"] == 0


def test_a_suite_run_imports_great_expectations_with_the_collector_off(tmp_path):
    # the first GX import of a run happens inside the policy's block, wherever a suite starts it
    seen = _probe(f"""
        import gc, json, sys
        import duckdb
        from orchestration import gc_policy
        gc_policy.enable_for_this_process()
        state = {{}}

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name == "great_expectations" and "collector_on" not in state:
                    state["collector_on"] = gc.isenabled()
                return None

        sys.meta_path.insert(0, Watch())
        warehouse = {str(tmp_path / "w.duckdb")!r}
        duckdb.connect(warehouse).close()
        from orchestration.quality import runner
        runner._run_gx(warehouse, planned={{}}, params={{}}, limits={{}})
        print(json.dumps(state))
    """)
    assert seen == {"collector_on": False}
