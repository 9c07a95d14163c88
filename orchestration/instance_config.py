"""The Dagster instance file of a data dir: installed from the shipped dagster.yaml, never over an edit.

`make dev` and `salesdw run` point DAGSTER_HOME at <data dir>/dagster. Its dagster.yaml is copied
from the repository's when there is none, and replaced by a newer shipped version only while it is
an unedited copy of an earlier one; an operator's own file (PostgreSQL storage from
docs/dagster.postgres.yaml, a different concurrency limit) stays as it is.

Which copies are unedited: the sha256 of the copy is recorded beside it (dagster.yaml.shipped);
instance files installed before that record existed are recognised by the hashes of the versions
shipped then (EARLIER_SHIPPED).

    python -m orchestration.instance_config <dagster home>   # what `make dev` runs
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from orchestration.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "dagster.yaml"
# dagster.yaml as shipped before the record beside the copy existed (git log -- dagster.yaml).
EARLIER_SHIPPED = {
    "82673a787e3699edeab7774292b127d7f8e7e1ecf495aa07792017f1dbf7bd71",
    "2af2f6304713ab94cf13bbb880b36e65384c5c92d16701744d5f7c682e2c3514",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install_instance_yaml(dagster_home: Path, shipped: Path = SHIPPED) -> str:
    """Install or update <dagster_home>/dagster.yaml; says what it did: installed, updated,
    current (already the shipped file) or kept (edited by someone: left alone)."""
    dagster_home = Path(dagster_home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    target, record = dagster_home / "dagster.yaml", dagster_home / "dagster.yaml.shipped"
    new = _sha256(shipped)
    if target.exists():
        current = _sha256(target)
        if current == new:
            if not record.exists():
                record.write_text(new + "\n")
            return "current"
        recorded = record.read_text().strip() if record.exists() else None
        if current != recorded and current not in EARLIER_SHIPPED:
            return "kept"
    outcome = "updated" if target.exists() else "installed"
    temporary = target.with_name("dagster.yaml.tmp")
    shutil.copyfile(shipped, temporary)
    temporary.replace(target)  # a reader never sees half a file
    record.write_text(new + "\n")
    return outcome


if __name__ == "__main__":
    home = Path(sys.argv[1])
    outcome = install_instance_yaml(home)
    if outcome == "kept":
        print(f"{home / 'dagster.yaml'} was edited: kept as it is (the shipped one is {SHIPPED})")
