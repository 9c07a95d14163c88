"""What a pipeline run spent its time on, read back from its data dir after `salesdw run`.

- stage times from the Dagster event log (<data>/dagster): STEP_START -> STEP_SUCCESS/FAILURE of
  every step, grouped into the stages of the benchmark;
- rows ingested by the run, from the ingestion ledger;
- the slowest dbt nodes, from dbt's run_results.json (where a dbt build's time goes);
- sizes on disk of the warehouses and the raw zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from orchestration.settings import environment

STAGES = ("ingest", "dbt build", "checks", "publish", "report")


def stage_of(step_key: str) -> str:
    if step_key == "ingest_exports":
        return "ingest"
    if step_key == "dbt_warehouse":
        return "dbt build"
    if step_key.endswith("_quality_checks") or step_key.startswith("freshness_check"):
        return "checks"
    if step_key == "serving__sales_warehouse":
        return "publish"
    if step_key == "serving__sales_report":
        return "report"
    return "other steps"  # e.g. the PostgreSQL copy, skipped without SALESDW_POSTGRES_URL


@dataclass
class RunStages:
    run_id: str
    started_at: float  # epoch seconds of the first step start
    steps: dict[str, float]  # step key -> seconds
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)  # step key -> (start, end) epoch s
    failed_steps: list[str] = field(default_factory=list)

    @property
    def stages(self) -> dict[str, float]:
        totals = {stage: 0.0 for stage in STAGES}
        for step, seconds in self.steps.items():
            stage = stage_of(step)
            totals[stage] = totals.get(stage, 0.0) + seconds
        return totals


def read_stages(data_dir: Path) -> RunStages:
    """Step times of the latest Dagster run in data_dir/dagster."""
    home = str(Path(data_dir) / "dagster")
    # the instance's event log storage (orchestration/run_history.py) lives under $DAGSTER_HOME
    with environment({"DAGSTER_HOME": home}):
        return _read_stages(home)


def _read_stages(home: str) -> RunStages:
    import dagster as dg

    with dg.DagsterInstance.from_config(home) as instance:
        (run,) = instance.get_runs(limit=1)
        started: dict[str, float] = {}
        steps: dict[str, float] = {}
        windows: dict[str, tuple[float, float]] = {}
        failed: list[str] = []
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[event.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
                steps[event.step_key] = entry.timestamp - started[event.step_key]
                windows[event.step_key] = (started[event.step_key], entry.timestamp)
                if kind == "STEP_FAILURE":
                    failed.append(event.step_key)
    return RunStages(run.run_id, min(started.values(), default=0.0), steps, windows, failed)


def ingested(data_dir: Path, since_epoch: float) -> dict[str, int]:
    """Files and rows the ingestion ledger recorded from `since_epoch` on (one run's share)."""
    from ingestion.ledger import read_ledger

    ledger = read_ledger(Path(data_dir) / "quality")
    since = datetime.fromtimestamp(since_epoch, timezone.utc).replace(tzinfo=None)  # the ledger is UTC
    mine = ledger[pd.to_datetime(ledger.started_at) >= pd.Timestamp(since)] if not ledger.empty else ledger
    loaded = mine[mine.status == "loaded"]
    return {
        "files_loaded": int(len(loaded)),
        "files_other": int(len(mine) - len(loaded)),
        "rows_read": int(mine.rows_read.sum()),
        "rows_loaded": int(mine.rows_loaded.sum()),
        "entities_loaded": sorted(loaded.entity.unique().tolist()),
    }


def dbt_profile(data_dir: Path, top: int = 8) -> dict:
    """Where the dbt build went: total seconds by resource type and the slowest nodes."""
    path = Path(data_dir) / "dbt_target" / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())
    by_type: dict[str, float] = {}
    nodes = []
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        by_type[kind] = by_type.get(kind, 0.0) + r["execution_time"]
        nodes.append(
            {
                "node": r["unique_id"].split(".", 2)[-1],
                "type": kind,
                "seconds": round(r["execution_time"], 2),
                "rows_affected": (r.get("adapter_response") or {}).get("rows_affected"),
            }
        )
    nodes.sort(key=lambda n: -n["seconds"])
    return {
        "elapsed": round(results.get("elapsed_time", 0.0), 2),
        "nodes": len(nodes),
        "seconds_by_type": {k: round(v, 1) for k, v in by_type.items()},
        "slowest": nodes[:top],
        "node_seconds": {n["node"]: n["seconds"] for n in nodes},
    }


def disk_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
