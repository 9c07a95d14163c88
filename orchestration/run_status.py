"""What became of each run's publish, for `salesdw status`.

One JSON line per event in <warehouse dir>/run_events.jsonl, appended by the serving steps
themselves (so a run started from the Dagster UI, the schedule or the sensor is recorded as a CLI
run is) and by the CLI at the end of its run:

    published         the serving warehouse was replaced by this run's build
    publish_refused   the audit refused the build (detail: why); the serving file is untouched
    postgres_failed   the PostgreSQL copy failed (detail: the cause); the DuckDB file is published
    finished          a CLI run ended (detail: exit code and, when nothing was published, why)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from orchestration.settings import Settings

EVENTS_LOG = "run_events.jsonl"


@dataclass
class RunEvents:
    run_id: str
    at: str  # when the run's first recorded event happened (local time, seconds)
    events: dict[str, str] = field(default_factory=dict)  # event -> detail (the latest of each)

    @property
    def published(self) -> bool:
        return "published" in self.events


def record(settings: Settings, run_id: str, event: str, detail: str = "") -> None:
    line = {"run_id": run_id, "at": datetime.now().isoformat(timespec="seconds"), "event": event, "detail": detail}
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.warehouse_dir / EVENTS_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(line, ensure_ascii=False) + "\n")


def last_run(settings: Settings) -> RunEvents | None:
    """The events of the run that recorded the newest event (None when no run recorded any)."""
    path = settings.warehouse_dir / EVENTS_LOG
    if not path.exists():
        return None
    lines = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue  # the torn last line of a process killed while appending
    if not lines:
        return None
    run_id = lines[-1]["run_id"]
    mine = [line for line in lines if line["run_id"] == run_id]
    return RunEvents(run_id=run_id, at=mine[0]["at"], events={line["event"]: line["detail"] for line in mine})
