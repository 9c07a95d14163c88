"""dagster-dbt loaded without dbt-core (orchestration/dbt_core_free.py): the definitions load without
importing dbt, and describe the same assets, checks and steps as with dbt-core loaded. Each case
runs in its own interpreter, where nothing is imported yet."""

from __future__ import annotations

from tests.support import probe_in_fresh_interpreter as _probe

# The definitions as Dagster sees them: every asset with its group, parents, description, tags,
# metadata (the translator object's address aside) and code version; every check with its
# description and blocking; every step of the full job. Prints a digest and what was imported.
DESCRIBE = """
    import hashlib, json, re, sys
    {first}
    from orchestration.definitions import defs
    from dagster._core.execution.api import create_execution_plan
    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        metadata = sorted((k, re.sub(" at 0x[0-9a-f]+", "", str(v))) for k, v in node.metadata.items())
        lines.append(repr((key.to_user_string(), node.group_name, sorted(map(str, node.parent_keys)),
                           node.description, sorted(node.tags.items()), metadata, node.code_version)))
    for check in sorted(graph.asset_check_keys, key=str):
        spec = graph.get_check_spec(check)
        lines.append(repr((str(check), spec.description, spec.blocking)))
    plan = create_execution_plan(defs.resolve_job_def("full_refresh"))
    lines += sorted(plan.step_keys_to_execute)
    import dagster_dbt.compat
    print(json.dumps({{"digest": hashlib.sha256("\\n".join(lines).encode()).hexdigest(), "lines": len(lines),
                      "dbt_imported": "dbt" in sys.modules,
                      "dbt_core_seen": dagster_dbt.compat.DBT_PYTHON_VERSION is not None}}))
"""


def test_the_definitions_load_without_dbt_core_and_describe_the_same_graph():
    without = _probe(DESCRIBE.format(first=""))
    with_dbt_core = _probe(DESCRIBE.format(first="import dbt.version  # dbt-core first: dagster-dbt sees it"))
    assert (without["dbt_imported"], without["dbt_core_seen"]) == (False, False)
    assert (with_dbt_core["dbt_imported"], with_dbt_core["dbt_core_seen"]) == (True, True)
    assert without["lines"] > 400  # 89 assets, 347 checks, the steps
    assert without["digest"] == with_dbt_core["digest"]


def test_dagster_dbt_still_imports_dbt_core_when_it_can():
    # the reason for orchestration/dbt_core_free.py: when this fails, dagster-dbt no longer loads
    # dbt-core on import, and the module can go
    seen = _probe("""
        import json, sys
        import dagster_dbt
        print(json.dumps({"dbt": "dbt" in sys.modules}))
    """)
    assert seen == {"dbt": True}


def test_dbt_core_stays_importable_afterwards():
    seen = _probe("""
        import json, sys
        import orchestration.dbt_core_free
        from dbt.version import __version__
        print(json.dumps({"dagster_dbt": "dagster_dbt" in sys.modules, "version": __version__}))
    """)
    assert seen["dagster_dbt"] and seen["version"].startswith("1.")
