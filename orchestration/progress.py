"""A compact console logger for runs: step starts and ends, failed checks, and the assets' own
progress messages, instead of Dagster's full event stream (which stays in the run's event log)."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    import dagster as dg

_console = Console(stderr=True, highlight=False)


def printable(value) -> str:
    """str(value) with every control character (an ANSI escape's ESC, a carriage return, a NUL)
    shown as its escape sequence: a file name must not drive the operator's terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(value))


def literal(value, style: str = "") -> Text:
    """Data (file names, errors, check names) for the console: printed as is, never read as Rich
    markup (a file named `x[/]y.csv` would otherwise crash the print), control characters escaped."""
    return Text(printable(value), style=style)


OBSERVATION_LIMIT = 300  # characters of what a failed check saw, on one console line


def check_observation(evaluation) -> str:
    """What a failed check saw, from its result's metadata (observed_value, details), on one line
    of at most OBSERVATION_LIMIT characters: the operator reads why without opening the UI."""
    metadata = getattr(evaluation, "metadata", None) or {}
    parts = []
    for key in ("observed_value", "details"):
        value = metadata.get(key)
        text = " ".join(str(getattr(value, "value", value) or "").split())
        if text:
            parts.append(f"{key.replace('_value', '')}: {text}")
    line = "; ".join(parts)
    return line if len(line) <= OBSERVATION_LIMIT else line[: OBSERVATION_LIMIT - 1] + "…"


def step_failure_cause(event) -> str:
    """One line saying why a step failed: the first line of the error that caused it (the user
    code's exception, not Dagster's wrapper nor the last line of a stack trace), without the
    exception's module path, at most 400 characters."""
    error = getattr(event.event_specific_data, "error", None)
    cause = error.cause if error is not None and error.cause is not None else error
    message = (cause.message if cause is not None else "").strip()
    first = message.splitlines()[0] if message else "unknown cause"
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: ", "", first)[:400]


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)  # step events are DEBUG; we pick the few we show
        self._started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        meta = getattr(record, "dagster_meta", {}) or {}
        if event is None:
            if record.levelno >= logging.INFO and meta.get("step_key"):
                _console.print(Text("  ") + literal(meta.get("orig_message") or record.getMessage(), "dim"))
            return
        kind = event.event_type_value
        step = event.step_key or ""
        if kind == "STEP_START":
            self._started[step] = time.monotonic()
            _console.print(f"[bold]▶ {step}[/]")
        elif kind == "STEP_SUCCESS":
            took = time.monotonic() - self._started.get(step, time.monotonic())
            _console.print(f"[green]✔ {step}[/] ({took:.1f} s)")
        elif kind == "STEP_FAILURE":
            _console.print(
                Text.assemble((f"✘ {step} failed", "red"), ": ", literal(step_failure_cause(event))), soft_wrap=True
            )
        elif kind == "STEP_SKIPPED":
            _console.print(f"[yellow]– {step} skipped[/] (an upstream step or blocking check failed)")
        elif kind == "ASSET_MATERIALIZATION" and event.asset_key is not None:
            _console.print(f"  [dim]✓ {event.asset_key.to_user_string()}[/]")
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            evaluation = getattr(data, "evaluation", data)
            if not evaluation.passed:
                severity = getattr(evaluation.severity, "value", evaluation.severity)
                colour = "red" if str(severity).upper() == "ERROR" else "yellow"
                seen = check_observation(evaluation)
                _console.print(
                    Text.assemble(
                        "  ",
                        (f"check failed ({severity}): ", colour),
                        literal(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}", colour),
                        *((" — ", literal(seen)) if seen else ()),
                    ),
                    soft_wrap=True,
                )


def progress_logger() -> "dg.LoggerDefinition":
    """The Dagster logger of the definitions (orchestration/definitions.py). Dagster is imported
    here, not with the module: `salesdw status` and `retire` print with `literal` and would
    otherwise import Dagster for nothing."""
    import dagster as dg

    @dg.logger(
        dg.Field({"log_level": dg.Field(str, is_required=False, default_value="INFO")}),
        description="Compact progress lines on stderr (step start/end, failed checks, asset messages).",
    )
    def progress(init_context) -> logging.Logger:
        log = logging.Logger("salesdw", level=logging.DEBUG)
        log.addHandler(_ProgressHandler())
        return log

    return progress
