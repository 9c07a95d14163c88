"""The CLI's light commands start without the pipeline's heavy libraries.

Importing Dagster alone took `salesdw status` from about 1.2 s to 2.5 s (docs/performance.md):
`--help`, `run --help`, `status` and `retire`'s messages need none of Dagster, dagster-dbt, dbt or
Great Expectations. Each command runs in a fresh interpreter, which then reports the modules it
loaded; the last probe imports the definitions, so a probe that could not see Dagster fails there.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("dagster", "dagster_dbt", "dbt", "great_expectations")

PROBE = """
import json, sys
from typer.testing import CliRunner
from orchestration.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
if sys.argv[1:] == ["definitions"]:
    import orchestration.definitions as definitions
    logger = definitions.defs.loggers["console"]
    result = type("R", (), {"exit_code": 0, "output": type(logger).__name__})
heavy = %r
print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                  "loaded": [m for m in heavy if m in sys.modules]}))
""" % (HEAVY,)


def probe(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_and_run_help_import_no_pipeline_library():
    for args in (["--help"], ["run", "--help"]):
        seen = probe(*args)
        assert seen["exit_code"] == 0, seen
        assert "Usage" in seen["output"]
        assert seen["loaded"] == [], (args, seen["loaded"])


def test_status_imports_no_pipeline_library(tmp_path):
    seen = probe("status", "--data-dir", str(tmp_path))
    assert seen["exit_code"] == 0, seen
    assert "nothing ingested yet" in seen["output"]
    assert seen["loaded"] == []


def test_the_probe_sees_dagster_once_the_definitions_are_loaded():
    seen = probe("definitions")
    assert seen["output"] == "LoggerDefinition"  # the console logger is still Dagster's
    # GX waits for the first check step; dbt-core is never loaded (orchestration/dbt_core_free.py)
    assert seen["loaded"] == ["dagster", "dagster_dbt"]
