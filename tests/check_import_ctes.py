"""The shape of every dbt model (CONTRIBUTING.md, `make lint`): import CTEs, logic CTEs, then `final`.

A model declares its inputs first: its leading CTEs are the import block, each one reading a
`ref()` or `source()` (`orders as (select * from {{ ref('stg_orders') }})`, or a staging macro
such as `latest_version(source(...))` over one raw table). Then come named logic CTEs that read
only those names, then a CTE called `final`, and the model ends with `select * from final`.
A `ref()` or `source()` anywhere after the import block (inside a join, a subquery, a later CTE)
hides an input from the reader, so it fails, naming the file and the line.

Usage: python tests/check_import_ctes.py [MODEL.sql | DIR ...]   (default: dbt_project/models)
Exit code 0 when every model passes, 1 with one line per finding otherwise.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "dbt_project" / "models"
INPUT_CALL = re.compile(r"\b(ref|source)\s*\(")
FINAL_SELECT = re.compile(r"^select\s+\*\s+from\s+final\s*;?\s*$", re.IGNORECASE)
# a CTE's name may be made by Jinja in a loop (`{{ attribute }}_intervals as (`)
CTE_HEAD = re.compile(
    r"((?:\{\{.*?\}\}|[A-Za-z0-9_])+)\s+as\s*(?:(?:not\s+)?materialized\s*)?\(", re.IGNORECASE | re.DOTALL
)
# whitespace and Jinja statements (`{% for ... %}`, `{% endfor %}`) between two CTEs
BETWEEN_CTES = re.compile(r"(?:\s|\{%.*?%\})*", re.DOTALL)


@dataclass
class Cte:
    name: str
    body: str
    offset: int  # where the body starts in the model's text
    start: int = 0  # where the CTE's name starts


def _blank(match: re.Match[str]) -> str:
    """The matched text with every character but newlines turned to spaces: line numbers survive."""
    return re.sub(r"[^\n]", " ", match.group(0))


def strip_comments(sql: str) -> str:
    """Jinja comments, SQL block comments and `--` line comments blanked out (strings kept)."""
    sql = re.sub(r"\{#.*?#\}", _blank, sql, flags=re.DOTALL)
    out, i, n = [], 0, len(sql)
    while i < n:
        if sql[i] == "'":
            end = sql.find("'", i + 1)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("{{", i) or sql.startswith("{%", i):
            end = sql.find("}}" if sql[i + 1] == "{" else "%}", i + 2)
            end = n - 2 if end == -1 else end
            out.append(sql[i : end + 2])
            i = end + 2
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(" " * (end - i))
            i = end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n - 2 if end == -1 else end
            out.append(re.sub(r"[^\n]", " ", sql[i : end + 2]))
            i = end + 2
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def _skip_opaque(sql: str, i: int) -> int:
    """The index after a Jinja tag or a string literal starting at i (i itself when there is none)."""
    if sql.startswith("{{", i) or sql.startswith("{%", i):
        end = sql.find("}}" if sql[i + 1] == "{" else "%}", i + 2)
        return len(sql) if end == -1 else end + 2
    if sql[i] == "'":
        end = sql.find("'", i + 1)
        return len(sql) if end == -1 else end + 1
    return i


def _matching_paren(sql: str, open_at: int) -> int:
    """The index of the parenthesis closing the one at open_at (Jinja tags and strings skipped)."""
    depth, i = 0, open_at
    while i < len(sql):
        after = _skip_opaque(sql, i)
        if after != i:
            i = after
            continue
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced parenthesis")


def _top_level_with(sql: str) -> int | None:
    """Where the body after the first top-level `with` keyword starts, or None (no CTE at all)."""
    i = 0
    while i < len(sql):
        after = _skip_opaque(sql, i)
        if after != i:
            i = after
            continue
        match = re.compile(r"\bwith\b(\s+recursive\b)?", re.IGNORECASE).match(sql, i)
        if match and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            return match.end()
        if sql[i] == "(":
            i = _matching_paren(sql, i) + 1
            continue
        i += 1
    return None


def split_model(sql: str) -> tuple[list[Cte], str, int]:
    """The model's top-level CTEs, then the statement after them and where it starts."""
    start = _top_level_with(sql)
    if start is None:
        return [], sql, 0
    ctes, i = [], start
    while True:
        head = CTE_HEAD.match(sql, BETWEEN_CTES.match(sql, i).end())
        if head is None:
            break
        close = _matching_paren(sql, head.end() - 1)
        ctes.append(Cte(head.group(1).lower(), sql[head.end() : close], head.end(), head.start()))
        i = close + 1
        after = BETWEEN_CTES.match(sql, i).end()
        if not sql.startswith(",", after):
            break
        i = after + 1
    return ctes, sql[i:], i


def is_import(cte: Cte, earlier: list[Cte]) -> bool:
    """An import CTE reads a ref() or source() and nothing else: no join, no earlier CTE, not `final`."""
    if cte.name == "final" or not INPUT_CALL.search(cte.body):
        return False
    body = re.sub(r"\{\{.*?\}\}", " ", cte.body, flags=re.DOTALL)  # a macro's own joins are its business
    words = set(re.findall(r"[a-z_][a-z0-9_]*", body.lower()))
    return "join" not in words and not words & {other.name for other in earlier}


def _line(sql: str, offset: int) -> int:
    return sql.count("\n", 0, offset) + 1


def check_model(path: Path) -> list[str]:
    """Every finding of one model, each as `path:line: why`."""
    sql = strip_comments(path.read_text(encoding="utf-8"))
    try:
        ctes, tail, tail_at = split_model(sql)
    except ValueError as exc:
        return [f"{path}:1: cannot read the model's CTEs ({exc})"]
    findings = []
    in_imports = True
    for index, cte in enumerate(ctes):
        inputs = list(INPUT_CALL.finditer(cte.body))
        in_imports = in_imports and is_import(cte, ctes[:index])
        if in_imports and len(inputs) > 1:
            findings.append(
                f"{path}:{_line(sql, cte.offset + inputs[1].start())}: import CTE '{cte.name}' reads "
                f"{len(inputs)} inputs: one import CTE per ref() or source()"
            )
        if in_imports or not inputs:
            continue
        findings.append(
            f"{path}:{_line(sql, cte.offset + inputs[0].start())}: {inputs[0].group(1)}() in CTE "
            f"'{cte.name}' after the import block: declare it as an import CTE at the top"
        )
    late = INPUT_CALL.search(tail)
    if late:
        findings.append(
            f"{path}:{_line(sql, tail_at + late.start())}: {late.group(1)}() in the final select: "
            "declare it as an import CTE at the top"
        )
    tail_line = _line(sql, tail_at + len(tail) - len(tail.lstrip()))
    if "final" not in [cte.name for cte in ctes]:
        findings.append(f"{path}:{tail_line}: no CTE named 'final'")
    elif not FINAL_SELECT.match(tail.strip()):
        findings.append(f"{path}:{tail_line}: the model must end with `select * from final`")
    return findings


def model_files(arguments: list[str]) -> list[Path]:
    roots = [Path(a) for a in arguments] or [DEFAULT_ROOT]
    files: list[Path] = []
    for root in roots:
        files.extend(sorted(root.rglob("*.sql")) if root.is_dir() else [root])
    return files


def main(arguments: list[str]) -> int:
    files = model_files(arguments)
    findings = [finding for path in files for finding in check_model(path)]
    for finding in findings:
        print(finding)
    print(f"import CTEs: {len(files)} models, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
