"""Who may read what on disk: one home for the file modes of the data directory.

The raw zone, the quarantine, the ledger, the check results, the build warehouse and the work
folders hold exports as landed (names, e-mail addresses, phone numbers) or views over them: owner
only (folders 0700, files 0600), whatever the process umask. What readers open (the serving
warehouse, which holds marts and quality tables only, and the HTML reports, which hold no personal
data) is 0644.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
READER_FILE = 0o644


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only; an existing folder is made so."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    _chmod(Path(path), PRIVATE_FILE)
    return Path(path)


def reader_file(path: Path) -> Path:
    _chmod(Path(path), READER_FILE)
    return Path(path)


def _chmod(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) != mode:
        os.chmod(path, mode)
