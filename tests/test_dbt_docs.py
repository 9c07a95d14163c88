"""The dbt documentation: every mart and mart column described, `dbt docs generate` working without
any network access, and a docs page that renders offline.

The catalog needs the relations and their columns, not rows: the session demo's build warehouse is
copied (every model and seed built; its raw views exposed again over this data dir's empty raw
zone), then `dbt docs generate --static` runs with every outbound network call blocked and dbt's own
anonymous-usage setting left to the project (no environment override).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from ingestion.raw_zone import expose_file
from orchestration.dbt_manifest import seed_partial_parse
from orchestration.settings import DBT_PROJECT_DIR, get_settings

# Runs a Python snippet with every non-loopback name lookup and connection refused and reported
# on stderr (dbt and its tracker would swallow the error itself, the report line stays).
NETWORK_GUARD = r"""
import ipaddress, socket, sys
_getaddrinfo, _connect = socket.getaddrinfo, socket.socket.connect
def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        print(f"NETWORK BLOCKED: lookup {host}", file=sys.stderr, flush=True)
        raise socket.gaierror(f"offline: {host}")
    return _getaddrinfo(host, *args, **kwargs)
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        print(f"NETWORK BLOCKED: connect {address}", file=sys.stderr, flush=True)
        raise OSError(f"offline: {address}")
    return _connect(self, address)
socket.getaddrinfo, socket.socket.connect = getaddrinfo, connect
"""
RUN_DBT = NETWORK_GUARD + "from dbt.cli.main import cli\nsys.argv = ['dbt', *sys.argv[1:]]\nsys.exit(cli())\n"

REMOTE = r"(?:https?:)?//"
# What a browser would fetch from elsewhere to render the page: remote tags, stylesheet urls, imports.
REMOTE_RESOURCE = {
    "tag": re.compile(
        r"<(?:script|link|img|iframe|source|embed|object|audio|video)\b[^>]*?\b(?:src|href|data)\s*=\s*"
        r"[\"']?" + REMOTE,
        re.I,
    ),
    "css url()": re.compile(r"url\(\s*[\"']?" + REMOTE, re.I),
    "css @import": re.compile(r"@import\s+(?:url\()?\s*[\"']?" + REMOTE, re.I),
}
# A script injected at run time from a remote address.
INJECTED_SCRIPT = re.compile(r"\.src\s*=\s*[\"']" + REMOTE + r"[^\"']*", re.I)
# Column names of ratios and averages: their description must name the parts (numerator / denominator).
# run_rate_* and *_run_rate are amounts (a run rate of revenue), not ratios.
RATIO_COLUMN = re.compile(r"((?<!run)_rate|_ratio|attainment|growth_|utilization|variance_pct|^avg_|^nps$)")


def _offline_dbt(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN_DBT, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def docs(tmp_path_factory, demo_run):
    assert demo_run.exit_code == 0, demo_run.output
    data_dir = tmp_path_factory.mktemp("dbt_docs")
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    shutil.copyfile(get_settings(demo_run.data_dir).build_warehouse, settings.build_warehouse)
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    target = data_dir / "dbt_target"
    seed_partial_parse(target)
    env = {**os.environ, **settings.dbt_env()}
    env.pop("DBT_SEND_ANONYMOUS_USAGE_STATS", None)  # the project alone must keep dbt offline
    env.pop("DO_NOT_TRACK", None)
    generated = _offline_dbt(
        "docs",
        "generate",
        "--static",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(data_dir / "dbt_logs"),
        env=env,
    )
    return {
        "run": generated,
        "manifest": json.loads((target / "manifest.json").read_text()),
        "catalog": json.loads((target / "catalog.json").read_text()),
        "index": (target / "index.html").read_text(encoding="utf-8"),
        "static_index": (target / "static_index.html").read_text(encoding="utf-8"),
    }


def _marts(manifest: dict) -> dict[str, dict]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


def test_network_guard_reports_what_it_blocks():
    # The offline check below is only as good as this guard: it must catch a real attempt.
    attempt = NETWORK_GUARD + (
        "import urllib.request\n"
        "try:\n    urllib.request.urlopen('https://example.com', timeout=5)\nexcept OSError:\n    pass\n"
    )
    proc = subprocess.run([sys.executable, "-c", attempt], capture_output=True, text=True, timeout=60)
    assert "NETWORK BLOCKED: lookup example.com" in proc.stderr


def test_docs_generate_works_without_network(docs):
    run = docs["run"]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "NETWORK BLOCKED" not in run.stderr
    assert "Catalog written" in run.stdout
    assert docs["manifest"]["metadata"]["send_anonymous_usage_stats"] is False


def test_every_mart_and_every_mart_column_is_described(docs):
    marts = _marts(docs["manifest"])
    assert len(marts) >= 15
    problems = []
    for uid, node in sorted(marts.items()):
        name = node["name"]
        if len(node["description"].split()) < 10:
            problems.append(f"{name}: no real description")
        built = docs["catalog"]["nodes"].get(uid)
        if built is None:
            problems.append(f"{name}: not in the catalog (not built?)")
            continue
        built_columns = {column.lower() for column in built["columns"]}
        described = {column.lower(): spec.get("description", "").strip() for column, spec in node["columns"].items()}
        problems += [f"{name}.{c}: in the table, not in the docs" for c in sorted(built_columns - set(described))]
        problems += [f"{name}.{c}: in the docs, not in the table" for c in sorted(set(described) - built_columns)]
        for column, text in sorted(described.items()):
            if len(text) < 10 or text.lower().rstrip(".") == column.replace("_", " "):
                problems.append(f"{name}.{column}: description {text!r} says nothing")
            elif RATIO_COLUMN.search(column) and "/" not in text:
                problems.append(f"{name}.{column}: a ratio whose description does not name its parts: {text!r}")
    assert not problems, "\n".join(problems)


def test_docs_page_renders_offline(docs):
    for page in ("index", "static_index"):
        html = docs[page]
        for kind, pattern in REMOTE_RESOURCE.items():
            found = [html[m.start() : m.end() + 60] for m in pattern.finditer(html)]
            assert not found, f"{page}.html fetches remote {kind}: {found[:3]}"
        # The one script the page can inject from elsewhere is dbt's usage tracker, and the page
        # turns tracking on only when the manifest says so (the project says no).
        for match in INJECTED_SCRIPT.finditer(html):
            assert "turn_on_tracking" in html[max(0, match.start() - 1500) : match.start()], match.group(0)
    static = docs["static_index"]
    # --static inlines the manifest and the catalog: the page opens from file:// with no server
    assert "MANIFEST.JSON INLINE DATA" not in static and "CATALOG.JSON INLINE DATA" not in static
    assert '"send_anonymous_usage_stats": false' in static
    for node in _marts(docs["manifest"]).values():
        assert json.dumps(node["description"])[1:-1][:80] in static, node["name"]
    assert "salesdw: the sales-management warehouse" in static  # the overview page (models/overview.md)


def test_docs_carry_the_exposures_and_the_raw_source_freshness(docs):
    manifest = docs["manifest"]
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == {"sales_report", "postgres_publish", "semantic_layer"}
    marts = {node["unique_id"] for node in _marts(manifest).values()}
    # the PostgreSQL publish copies every mart: its exposure must name each one
    assert set(exposures["postgres_publish"]["depends_on"]["nodes"]) == marts
    raw = [s for s in manifest["sources"].values() if s["source_name"] == "raw"]
    assert raw and all(s["loaded_at_field"] == "_loaded_at" and s["freshness"]["error_after"]["count"] for s in raw)
