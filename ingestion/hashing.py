"""File hashes, streamed: a landed file may be larger than memory.

The ledger keys a file by the SHA-256 of its bytes. The loader reads a landed file in place and
hashes it again afterwards, or, for a name DuckDB would take as a pattern, reads a `private_copy`
hashed as it is made: either way it records the hash of what it actually read (ingestion/loader.py).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from ingestion.file_modes import private_file


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def known_sha256(path: Path) -> str:
    """file_sha256, remembered while the file's size, modification and change times stay the same: the
    landing sensor asks again every tick, and a large file left in the landing folder (one the
    loader rejects, say) would otherwise be read in full each time. The loader itself never uses
    this: it hashes the bytes it reads."""
    st = os.stat(path)
    # ctime too: a rewrite that restores the mtime (cp -p, rsync -t) still changes it
    return _sha256_at(str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@lru_cache(maxsize=4096)
def _sha256_at(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    return file_sha256(Path(path))


def private_copy(path: Path, target: Path) -> str:
    """Copy `path` to `target` (owner-only), returning the SHA-256 of the bytes copied: the
    loader reads the copy, so the hash it records is the hash of what it loaded, whatever
    happens to the landed file meanwhile."""
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as src, open(target, "xb") as out:
        private_file(target)
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
