"""dagster-dbt loaded without dbt-core in this process: about 1.5 s off every run's start-up.

dagster-dbt imports dbt-core when it can (dagster_dbt/compat.py: dbt's node and status enums, the
adapter classes, its selection engine), and dbt-core's import is the largest part of loading the
definitions. salesdw never runs dbt in this process: dbt builds in a process of its own
(orchestration/dbt_launcher.py), dagster-dbt holds no adapter here (orchestration/dbt_resource.py),
and the dbt assets select the whole manifest, which dagster-dbt reads without dbt's selection
engine. So dagster-dbt is imported here with `dbt` hidden, and takes its documented path for an
environment without dbt-core (the one it uses with dbt Fusion): its own string enums of the same
values, the manifest's nodes as the selection. The asset graph is the same either way
(tests/test_dbt_core_free.py); dbt-core stays importable for whatever imports it later.

Every module that imports dagster_dbt imports this one first.
"""

from __future__ import annotations

import importlib.abc
import sys


class _WithoutDbtCore(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "dbt" or name.startswith("dbt."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden while dagster_dbt loads)", name=name)
        return None


def load_dagster_dbt() -> None:
    """Import dagster_dbt with dbt-core hidden, unless this process has already imported either."""
    if "dagster_dbt" in sys.modules or "dbt" in sys.modules:
        return
    finder = _WithoutDbtCore()
    sys.meta_path.insert(0, finder)
    try:
        import dagster_dbt  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


load_dagster_dbt()
