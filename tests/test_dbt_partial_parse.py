"""A new data dir's first dbt invocation reuses the parse prepared at set-up (orchestration/
dbt_manifest.py, Settings.dbt_run_env) instead of re-parsing the whole project: dbt says why when it
cannot ("Unable to do partial parsing because ..."), at info level, on stdout."""

from __future__ import annotations

import os
import subprocess
import sys

from orchestration.dbt_manifest import MANIFEST, ensure_manifest
from orchestration.settings import DBT_PROJECT_DIR, get_settings
from tests.support import dbt

NO_PARTIAL_PARSE = "Unable to do partial parsing"


def test_a_new_data_dir_starts_from_the_prepared_parse(tmp_path):
    ensure_manifest()
    parsed = dbt(tmp_path / "data", "parse")  # as the pipeline runs dbt: relative paths, seeded target
    assert NO_PARTIAL_PARSE not in parsed.stdout, parsed.stdout[-2000:]
    assert (tmp_path / "data" / "dbt_target" / "partial_parse.msgpack").exists()


def test_with_absolute_paths_the_same_parse_would_be_thrown_away(tmp_path):
    # The check above can fail: the seeded parse rendered with the data dir's absolute paths (what
    # the profile saw before) makes dbt start over.
    ensure_manifest()
    settings = get_settings(tmp_path / "data")
    settings.ensure_dirs()
    target = settings.data_dir / "dbt_target"
    target.mkdir()
    (target / "partial_parse.msgpack").write_bytes((MANIFEST.parent / "partial_parse.msgpack").read_bytes())
    env = {**os.environ, **settings.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "dbt"),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(settings.data_dir / "dbt_logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.data_dir,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert f"{NO_PARTIAL_PARSE} because profile has changed" in proc.stdout


def test_a_prepared_parse_rewritten_by_a_dbt_command_run_by_hand_is_stale(tmp_path, monkeypatch):
    # `dbt ls` or `dbt compile` in dbt_project/ with another profile rewrites target/ in place;
    # seeded from that, every pipeline run would parse the whole project again. On a copy of the
    # prepared target (the project's own is shared by the test workers).
    from orchestration import dbt_manifest

    ensure_manifest()
    assert not dbt_manifest.manifest_is_stale()  # the key _parse() wrote matches what it left
    copy = tmp_path / "target"
    for name in ("manifest.json", "partial_parse.msgpack", "parse_key.json"):
        (copy / name).parent.mkdir(exist_ok=True)
        (copy / name).write_bytes((MANIFEST.parent / name).read_bytes())
    monkeypatch.setattr(dbt_manifest, "MANIFEST", copy / "manifest.json")
    monkeypatch.setattr(dbt_manifest, "PARSE_KEY", copy / "parse_key.json")
    (copy / "parse_key.json").write_text(dbt_manifest._parse_key())  # as _parse() leaves it
    assert not dbt_manifest.manifest_is_stale()
    prepared = copy / "partial_parse.msgpack"
    prepared.write_bytes(prepared.read_bytes() + b"\0")  # what a hand-run dbt command does to it
    assert dbt_manifest.manifest_is_stale()
