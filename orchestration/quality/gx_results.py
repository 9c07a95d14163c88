"""GX's validation results read as a check's outcome: passed, the observed value and the details
a reader needs (unexpected values, bounds, errors), each part named by its label."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from orchestration.quality.planning import Outcome, Planned
from orchestration.quality.suites import UNEXPECTED_ROWS, ExpectationDef

_SAMPLE = 5  # unexpected values / rows quoted in details


def _first_error(exception_info: dict | None) -> str | None:
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "error").strip().splitlines()[0]
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _describe(exp: ExpectationDef, validation, params: dict) -> tuple[bool, str, str]:
    """(success, observed value, details) of one GX expectation result."""
    error = _first_error(validation.exception_info)
    if error:
        return False, "error", error
    result = validation.result or {}
    if "unexpected_count" in result and "element_count" in result:
        observed = f"{result['unexpected_count'] or 0} of {result['element_count']} rows"
        sample = result.get("partial_unexpected_list") or []
        details = f"unexpected values: {_fmt(sample[:_SAMPLE])}" if sample else ""
        if "mostly" in exp.kwargs:
            details = f"{details}; required share {exp.kwargs['mostly']:g}".lstrip("; ")
        return validation.success, observed, details
    if exp.type == UNEXPECTED_ROWS:
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        sample = _fmt(rows[:_SAMPLE]) if rows else ""
        return validation.success, f"{result.get('observed_value')} {exp.unit}", sample
    # a column aggregate states its bounds; a table row count's band is in the check's note
    bounds = [
        f"{k} {_fmt(_resolve(exp.kwargs[k], params))}"
        for k in ("min_value", "max_value")
        if k in exp.kwargs and "column" in exp.kwargs
    ]
    return validation.success, _fmt(result.get("observed_value")), ", ".join(bounds)


def _resolve(value: Any, params: dict) -> Any:
    """A kwarg as GX used it: {$PARAMETER: name} replaced by the run's value."""
    return params.get(value["$PARAMETER"]) if isinstance(value, dict) and "$PARAMETER" in value else value


def outcome(plan: Planned, validations: list, failure: str | None, params: dict) -> Outcome:
    if failure or any(v is None for v in validations):
        return Outcome(False, "error", failure or "GX returned no result for this check")
    parts = [(exp, *_describe(exp, v, params)) for exp, v in zip(plan.expectations, validations)]
    passed = all(ok for _, ok, _, _ in parts)
    shown = parts if passed else [p for p in parts if not p[1]]  # failures first and only
    # parts are named by their label (a column, a rule) so a reader sees which one failed
    observed = "; ".join(f"{exp.label}: {obs}" if exp.label else obs for exp, _, obs, _ in shown)
    details = "; ".join(f"{exp.label}: {det}" if exp.label else det for exp, _, _, det in shown if det)
    return Outcome(passed, observed, "; ".join(x for x in (details, plan.note) if x))
