"""The GX-on-DuckDB workaround (orchestration/quality/gx_duckdb.py) is still needed and still works.

If a Great Expectations, duckdb-engine or SQLAlchemy upgrade fixes a gap, the matching
"still reproduces" test fails: drop that part of the workaround then. If an upgrade moves what the
workaround patches, the patched tests fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import duckdb
import duckdb_engine
import pytest

from orchestration.quality import gx_duckdb
from orchestration.quality.gx_startup import gx_context


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("gx") / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema s")
        con.execute("""create table s.lines as select * from (values
            ('L1', cast(10.50 as decimal(18,2))), ('L2', cast(-1 as decimal(18,2))), ('L3', null))
            as t(line_id, amount)""")
    return path


def _validate(warehouse, *expectations, result_format="SUMMARY"):
    """Validate on a fresh data source (engines are made per data source), then release it."""
    import great_expectations as gx

    context = gx_context()
    datasource = context.data_sources.add_sql(
        name=f"t_{uuid.uuid4().hex}",
        connection_string=f"duckdb:///{warehouse}",
        kwargs={"connect_args": {"read_only": True}},
    )
    try:
        asset = datasource.add_table_asset(name="lines", table_name="lines", schema_name="s")
        batch = asset.add_batch_definition_whole_table("all").get_batch()
        suite = gx.ExpectationSuite(name="t", expectations=list(expectations))
        return {r.expectation_config.type: r for r in batch.validate(suite, result_format=result_format).results}
    finally:
        gx_duckdb.release(datasource)
        context.data_sources.delete(datasource.name)


def _persisted_without_duckdb():
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    return engine_module, tuple(d for d in engine_module._PERSISTED_CONNECTION_DIALECTS if d != "duckdb")


def test_without_a_persistent_connection_gx_still_loses_duckdb_results(warehouse, monkeypatch):
    import great_expectations as gx

    gx_context()
    engine_module, unpatched = _persisted_without_duckdb()
    monkeypatch.setattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", unpatched)
    result = _validate(warehouse, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    validation = result["expect_table_row_count_to_be_between"]
    assert not validation.success
    assert "list index out of range" in str(validation.exception_info)


def test_without_the_reflection_fix_column_expectations_still_fail(warehouse, monkeypatch):
    import great_expectations as gx

    gx_context()
    monkeypatch.delattr(duckdb_engine.Dialect, "get_columns")  # back to the inherited PostgreSQL one
    result = _validate(warehouse, gx.expectations.ExpectColumnValuesToNotBeNull(column="line_id"))
    validation = result["expect_column_values_to_not_be_null"]
    assert not validation.success
    assert "raised_exception': True" in str(validation.exception_info)


@pytest.fixture(scope="module")
def keyed_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("gx_keys") / "keys.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema s")
        con.execute("create table s.keyed (a int, b varchar, c int, primary key (b, a))")
        con.execute("create table s.unkeyed (x int)")
        con.execute("create view s.keyed_view as select * from s.keyed")
    return path


def _pk_inspector(path):
    import sqlalchemy as sa

    gx_context()  # applies the workaround
    return sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})


def test_without_the_primary_key_fix_postgresql_reflection_still_fails(keyed_warehouse, monkeypatch):
    import sqlalchemy as sa

    engine = _pk_inspector(keyed_warehouse)
    monkeypatch.delattr(duckdb_engine.Dialect, "get_pk_constraint")  # back to the PostgreSQL one
    try:
        with pytest.raises(sa.exc.ProgrammingError, match="REGCLASS"):
            sa.inspect(engine).get_pk_constraint("keyed", schema="s")
    finally:
        engine.dispose()


def test_primary_keys_are_reflected_from_duckdb_constraints(keyed_warehouse):
    import sqlalchemy as sa

    engine = _pk_inspector(keyed_warehouse)
    try:
        inspector = sa.inspect(engine)
        keyed = inspector.get_pk_constraint("keyed", schema="s")
        assert keyed["constrained_columns"] == ["b", "a"]  # in key order, not column order
        assert keyed["name"]
        assert inspector.get_pk_constraint("unkeyed", schema="s") == {"constrained_columns": [], "name": None}
        assert inspector.get_pk_constraint("keyed_view", schema="s")["constrained_columns"] == []
        assert inspector.get_pk_constraint("keyed", schema="main")["constrained_columns"] == []
    finally:
        engine.dispose()


def test_patched_metrics_run_on_a_real_duckdb_file(warehouse):
    import great_expectations as gx

    gx_context()
    assert gx_duckdb.is_applied()
    E = gx.expectations
    result = _validate(
        warehouse,
        E.ExpectTableRowCountToBeBetween(min_value=1),
        E.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
    )
    assert result["expect_table_row_count_to_be_between"].result["observed_value"] == 3
    between = result["expect_column_values_to_be_between"]
    assert (between.success, between.result["unexpected_count"], between.result["element_count"]) == (False, 1, 3)


def test_no_analytics_no_progress_bars(warehouse, capfd):
    import great_expectations as gx

    context = gx_context()
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"
    assert context.variables.progress_bars.globally is False
    _validate(warehouse, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.err + captured.out


def test_released_data_source_lets_a_writer_in(warehouse):
    import great_expectations as gx

    _validate(warehouse, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    code = f"import duckdb; duckdb.connect({str(warehouse)!r}).execute('create table s.w (x int)')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


_START_UP_PROBE = """
import inspect, sys
from decimal import Decimal
from orchestration.quality.gx_startup import gx_context
gx_context()
import great_expectations.util as gx_util
from orchestration.quality import gx_duckdb
assert gx_duckdb.is_applied()
def deferred():
    return type(sys.modules["scipy.stats"]).__name__ == "_LazyModule"
print("imported, scipy.stats deferred:", deferred())
assert gx_util.convert_decimal_to_float(Decimal("12.50")) == 12.5
print("after a decimal conversion, deferred:", deferred())
if sys.argv[1] == "stock-stack":
    gx_util.stack = inspect.stack
    gx_util.convert_decimal_to_float(Decimal("12.50"))
    print("with GX's own inspect.stack, deferred:", deferred())
from scipy import stats
print("entropy", round(float(stats.entropy([0.5, 0.5], [0.9, 0.1])), 4))
"""


def _probe(mode: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _START_UP_PROBE, mode],
        capture_output=True,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "false"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_scipy_stats_is_deferred_until_used():
    # still needed while GX imports scipy.stats at start-up: once it stops, the probe's lookup of
    # sys.modules["scipy.stats"] fails, and the deferral can go
    out = _probe("patched")
    assert "imported, scipy.stats deferred: True" in out
    assert "after a decimal conversion, deferred: True" in out
    assert "entropy 0.5108" in out  # and works when something does use it


def test_gxs_own_decimal_conversion_still_walks_every_module():
    # the stack patch is still needed: with GX's inspect.stack the same conversion touches (and so
    # loads) every module on the way; when an upgrade stops doing that, drop the patch
    assert "with GX's own inspect.stack, deferred: False" in _probe("stock-stack")


def test_an_ephemeral_context_still_validates_without_saving_its_config(warehouse):
    import great_expectations as gx
    from great_expectations.data_context.data_context.ephemeral_data_context import EphemeralDataContext

    assert EphemeralDataContext._save_project_config is gx_duckdb._keep_ephemeral_config_in_memory
    results = _validate(warehouse, gx.expectations.ExpectColumnValuesToNotBeNull(column="amount"))
    assert results["expect_column_values_to_not_be_null"].result["unexpected_count"] == 1


def _data_source_saves(monkeypatch) -> list[str]:
    """Adds and deletes a data source on the GX context; returns the configuration saves it made."""
    context = gx_context()
    saves = []
    variables = type(context.variables)
    gxs_save = variables.save
    monkeypatch.setattr(variables, "save", lambda self: (saves.append("save"), gxs_save(self))[1])
    name = f"t_{uuid.uuid4().hex}"
    context.data_sources.add_sql(name=name, connection_string="duckdb:///:memory:")
    context.data_sources.delete(name)
    return saves


def test_gx_still_saves_its_config_on_every_data_source_change(monkeypatch):
    from great_expectations.data_context.data_context.ephemeral_data_context import EphemeralDataContext

    assert _data_source_saves(monkeypatch) == []  # patched: nothing serialized
    monkeypatch.delattr(EphemeralDataContext, "_save_project_config")  # GX's own: AbstractDataContext's
    assert len(_data_source_saves(monkeypatch)) >= 2  # one save per change; when 0, drop patch 4


def test_is_applied_says_false_before_apply_and_true_after():
    code = (
        "from orchestration.quality import gx_duckdb; print(gx_duckdb.is_applied()); "
        "gx_duckdb.apply(); gx_duckdb.apply(); print(gx_duckdb.is_applied())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True"]
