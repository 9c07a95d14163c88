"""A static data-quality report: one self-contained HTML page over the check results store.

One section per run (newest first), one table per layer, failed checks first (blocking ones on
top) with their observed values. No scripts, fonts or styles from the network: it opens offline.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from ingestion.file_modes import reader_file
from orchestration.quality import results_store
from orchestration.quality.suites import LAYERS

REPORT_NAME = "data_quality.html"

_TEMPLATE = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>salesdw data quality</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr.fail-error td.status { color: #fff; background: #c62828; }
tr.fail-warn td.status { background: #ffb300; }
tr.pass td.status { color: #2e7d32; }
.summary { color: #555; }
td.details { color: #555; max-width: 40rem; word-break: break-word; }
</style></head><body>
<h1>salesdw data quality</h1>
{% if not runs %}<p>No check results yet.</p>{% endif %}
{% for run in runs %}
<section>
<h2>Run {{ run.run_id }}</h2>
<p class="summary">checked {{ run.checked_at }} &middot; {{ run.total }} checks &middot;
{{ run.failed }} failed &middot; {{ run.blocking }} blocking the publish</p>
{% for layer in run.layers %}
<h3>{{ layer.name }}</h3>
<table>
<tr><th>status</th><th>severity</th><th>asset</th><th>check</th><th>observed</th><th>details</th></tr>
{% for r in layer.rows %}
<tr class="{{ 'pass' if r.passed else 'fail-' ~ r.severity }}">
<td class="status">{{ 'passed' if r.passed else 'FAILED' }}</td><td>{{ r.severity }}</td>
<td>{{ r.asset }}</td><td>{{ r.check_name }}</td><td>{{ r.observed_value }}</td>
<td class="details">{{ r.details }}</td></tr>
{% endfor %}
</table>
{% endfor %}
</section>
{% endfor %}
</body></html>
""",
    autoescape=True,
)


def _layer_order(layer: str) -> int:
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def write_quality_report(quality_dir: Path, reports_dir: Path) -> Path:
    """Write reports_dir/data_quality.html from every stored result; returns its path."""
    frame = results_store.read(quality_dir)
    # a check rerun within a run (a retried step) shows its latest result only
    frame = frame.drop_duplicates(["run_id", "layer", "asset", "check_name"], keep="last")
    runs = []
    for run_id, run in frame.groupby("run_id", sort=False):
        layers = []
        for layer, rows in sorted(run.groupby("layer"), key=lambda item: _layer_order(item[0])):
            rows = rows.assign(_order=rows["passed"].astype(int) * 2 + (rows["severity"] != "error"))
            rows = rows.sort_values(["_order", "asset", "check_name"])
            layers.append({"name": layer, "rows": rows.to_dict("records")})
        failed = run[~run["passed"]]
        runs.append(
            {
                "run_id": run_id,
                "checked_at": run["checked_at"].max(),
                "layers": layers,
                "total": len(run),
                "failed": len(failed),
                "blocking": int((failed["severity"] == "error").sum()),
            }
        )
    runs.sort(key=lambda r: r["checked_at"], reverse=True)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / REPORT_NAME
    tmp = path.with_name(f".{path.name}.tmp")  # renamed into place: a reader never opens half a page
    tmp.write_text(_TEMPLATE.render(runs=runs), encoding="utf-8")
    reader_file(tmp)  # as the sales reports: no personal data (ingestion/file_modes.py)
    os.replace(tmp, path)
    return path
