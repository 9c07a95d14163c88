"""Globs that match any letter case.

`case_insensitive` turns a glob into one that matches any letter case (Python 3.11's glob has no
switch for it): exports from Windows tools arrive as `ORDERS.CSV` as often as `orders.csv`. The
profiles match with it (ingestion/profile.py), and the ignored-files listing (ingestion/ignored.py)
follows the profiles.
"""

from __future__ import annotations


def case_insensitive(pattern: str) -> str:
    """The glob `pattern` with every letter matching either case ([...] classes included)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 2) if char == "[" else -1
        if end != -1:
            inner = pattern[i + 1 : end]
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
