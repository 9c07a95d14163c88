"""Every file under a landing folder is either read or listed as ignored, with the reason.

A profile's globs decide which files it reads; anything else used to be skipped in silence (an
`ORDERS_UP.CSV` under case-sensitive globs, a `.ndjson` export, a sub-folder, a misspelled entity
folder such as `order/`), while the run said "17 files loaded". `ignored_files` names each file no
source of the profile reads and says why; the ingest asset stores the list per run
(`<quality>/ignored/<run_id>.json`), logs it, and `salesdw status` shows the last one.

`case_insensitive` turns a glob into one that matches any letter case (Python 3.11's glob has no
switch for it): exports from Windows tools arrive as `ORDERS.CSV` as often as `orders.csv`.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ingestion.file_modes import private_dir

IGNORED_DIR = "ignored"


@dataclass(frozen=True)
class IgnoredFile:
    profile: str
    file_path: str  # relative to the profile's landing folder
    reason: str


def case_insensitive(pattern: str) -> str:
    """The glob `pattern` with every letter matching either case ([...] classes included)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 2) if char == "[" else -1
        if end != -1:
            inner = pattern[i + 1:end]
            negate = inner[:1] in ("!", "^")
            body = inner[1:] if negate else inner
            out.append("[" + ("!" if negate else "") + "".join(_both(c) for c in body) + "]")
            i = end + 1
            continue
        out.append(f"[{_both(char)}]" if char.lower() != char.upper() else char)
        i += 1
    return "".join(out)


def _both(char: str) -> str:
    return char.lower() + char.upper() if char.lower() != char.upper() else char


def ignored_files(landing_dir: Path, profile, read: set[Path]) -> list[IgnoredFile]:
    """The files under landing_dir (recursively) not in `read`, each with why no source reads it."""
    root = Path(landing_dir).resolve()
    folders = _pattern_folders(profile)
    ignored = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.resolve() in read or path in read:
                continue
            rel = path.relative_to(root)
            ignored.append(IgnoredFile(profile.name, rel.as_posix(), _reason(path, rel, root, folders, profile)))
    return ignored


def _pattern_folders(profile) -> set[str]:
    """The folders (relative, lower case) the profile's globs read files from ('' = the root)."""
    parents = {Path(pattern).parent.as_posix().lower() for spec in profile.sources for pattern in spec.patterns()}
    return {"" if p == "." else p for p in parents}


def _reason(path: Path, rel: Path, root: Path, folders: set[str], profile) -> str:
    from ingestion.profile import EXTENSION_FORMATS, format_of

    parent = rel.parent.as_posix().lower() if rel.parent != Path(".") else ""
    if any(part.startswith((".", "~$")) for part in rel.parts):
        return "hidden file or folder (a copy in progress or an editor's scratch file)"
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return "a symlink leading outside the landing folder"
    if format_of(path) is None:
        known = ", ".join(sorted({s.lstrip(".") for s in EXTENSION_FORMATS}))
        return f"unsupported file type (readable: {known})"
    if parent in folders or "" in folders and parent == "":
        return f"matches none of profile {profile.name!r}'s file patterns"
    holder = next((f for f in sorted(folders) if f and parent.startswith(f + "/")), None)
    if holder is not None:
        return f"in a sub-folder of {holder}/: only files directly in it are read"
    if parent == "":
        return f"not in an entity folder (profile {profile.name!r} reads {_listing(folders)})"
    top = parent.split("/")[0]
    close = difflib.get_close_matches(top, [f.split("/")[0] for f in folders if f], n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}/?" if close else f" (it reads {_listing(folders)})"
    return f"folder {rel.parts[0]}/ is not read by profile {profile.name!r}{hint}"


def _listing(folders: set[str]) -> str:
    named = sorted(f + "/" for f in folders if f)
    return ", ".join(named[:6]) + (", …" if len(named) > 6 else "") if named else "files in the folder itself"


def write_ignored(quality_dir: Path, run_id: str, ignored: list[IgnoredFile]) -> Path:
    """Store a run's ignored files as <quality>/ignored/<run_id>.json (written even when empty, so
    the newest file is the last run's list)."""
    folder = Path(quality_dir) / IGNORED_DIR
    private_dir(folder)
    target = folder / f"{run_id}.json"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps([asdict(i) for i in ignored], ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)
    return target


def last_ignored(quality_dir: Path) -> tuple[str, list[IgnoredFile]] | None:
    """(run id, its ignored files) of the newest stored list, or None."""
    folder = Path(quality_dir) / IGNORED_DIR
    stored = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    if not stored:
        return None
    rows = json.loads(stored[-1].read_text(encoding="utf-8"))
    return stored[-1].stem, [IgnoredFile(**r) for r in rows]
