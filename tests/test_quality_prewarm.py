"""GX started in the background (orchestration.quality.prewarm): the dbt step starts it, the
suites after the build find it ready. Each case runs in its own interpreter, where GX has not
been imported yet."""

from __future__ import annotations

from tests.support import probe_in_fresh_interpreter as _probe


def test_prewarm_starts_gx_once_in_the_background_and_the_suite_gets_that_context():
    seen = _probe("""
        import json, os, sys, threading
        from orchestration.quality import prewarm
        from orchestration.quality import gx_startup
        before = "great_expectations" in sys.modules
        thread = prewarm()
        again = prewarm()
        background = thread is not threading.current_thread() and thread.daemon
        thread.join()
        made_by_the_thread = gx_startup._create_context.cache_info().misses  # before this thread asks
        context = gx_startup.gx_context()
        print(json.dumps({"before": before, "same_thread": again is thread, "background": background,
                          "made_by_the_thread": made_by_the_thread,
                          "reused": (gx_startup._create_context.cache_info().misses == 1
                                     and gx_startup.gx_context() is context),
                          "imported": "great_expectations" in sys.modules,
                          "analytics": os.environ.get("GX_ANALYTICS_ENABLED")}))
    """)
    assert seen == {
        "before": False,
        "same_thread": True,
        "background": True,
        "made_by_the_thread": 1,
        "reused": True,
        "imported": True,
        "analytics": "false",
    }


def test_a_suite_that_asks_while_prewarm_is_at_it_waits_for_the_same_context():
    seen = _probe("""
        import json
        from orchestration.quality import gx_startup, prewarm
        thread = prewarm()
        context = gx_startup.gx_context()  # most likely while the thread is still importing GX
        thread.join()
        print(json.dumps({"created": gx_startup._create_context.cache_info().misses,
                          "same": gx_startup.gx_context() is context}))
    """)
    assert seen == {"created": 1, "same": True}


def test_a_failed_prewarm_is_raised_by_the_suite_that_needs_gx():
    seen = _probe("""
        import json, sys
        from orchestration.quality import gx_startup, prewarm
        sys.modules["great_expectations"] = None  # GX cannot be imported
        prewarm().join()  # fails quietly in its thread
        try:
            gx_startup.gx_context()
            raised = None
        except ImportError as exc:
            raised = "great_expectations" in str(exc)
        del sys.modules["great_expectations"]
        recovered = gx_startup.gx_context() is gx_startup.gx_context()  # a failure is not cached
        print(json.dumps({"raised": raised, "recovered": recovered}))
    """)
    assert seen == {"raised": True, "recovered": True}
