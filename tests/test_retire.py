"""`salesdw retire` (issue 17 item 5): recover from a bad file by taking its batch back out and
landing the good file again. End to end on a three-team fixture, through the CLI: the retired
batch stays in the raw zone but raw.teams (what staging reads) no longer holds it, the ledger says
when and why, `salesdw status` lists it, the good file landed again restores the teams, the bad
content loads again if landed again, and the next dbt build is a full refresh until a build has
succeeded."""

from __future__ import annotations

import duckdb
import pandas as pd
from typer.testing import CliRunner

from ingestion.ledger import read_ledger
from ingestion.loader import ingest
from ingestion.raw_zone import expose_file
from ingestion.retire import clear_full_refresh
from orchestration.assets.warehouse import build_args, plan_build
from orchestration.cli import app
from orchestration.refresh import commit_refresh
from orchestration.settings import get_settings

HEADER = "team_id,team_name,region\n"
FULL = HEADER + "T1,North,N\nT2,South,S\nT3,East,E\n"
CUT = HEADER + "T1,North,N\n"  # the same export cut short
PLAIN_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def ingest_all(settings):
    return ingest(settings.landing_dir / "canonical", "canonical", settings.raw_dir, settings.quality_dir).files


def raw_teams(settings) -> set[tuple[str, str]]:
    """raw.teams as dbt's staging reads it: (batch id, team_id)."""
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    with duckdb.connect(str(settings.build_warehouse), read_only=True) as con:
        return set(con.execute("select _batch_id, team_id from raw.teams").fetchall())


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_retire_a_bad_batch_then_land_the_good_file_again(tmp_path):
    settings = get_settings(tmp_path)
    settings.ensure_dirs()
    landed = settings.landing_dir / "canonical" / "teams" / "teams.csv"
    landed.parent.mkdir(parents=True)
    landed.write_text(FULL)
    (good,) = ingest_all(settings)
    landed.write_text(CUT)
    (bad,) = ingest_all(settings)
    assert {b for b, _ in raw_teams(settings)} == {good.batch_id, bad.batch_id}
    assert build_args(settings) == PLAIN_BUILD + ["--full-refresh"]  # no build yet
    commit_refresh(settings, plan_build(settings)[0])  # what the dbt step does once dbt has succeeded
    assert build_args(settings) == PLAIN_BUILD

    # the landed file names the batch of the bytes it holds now: the cut one, not the earlier full one
    out = cli("retire", str(landed), "--reason", "cut in half by the export", "--data-dir", str(tmp_path))
    assert out.exit_code == 0, out.output
    assert f"retired {bad.batch_id} (canonical/teams/teams.csv, 1 rows of teams)" in out.output
    ledger = read_ledger(settings.quality_dir).set_index("batch_id")
    assert ledger.loc[bad.batch_id, "retired_reason"] == "cut in half by the export"
    assert not pd.isna(ledger.loc[bad.batch_id, "retired_at"]) and pd.isna(ledger.loc[good.batch_id, "retired_at"])
    assert (settings.raw_dir / "teams" / f"{bad.batch_id}.parquet").exists()  # stays in raw
    assert raw_teams(settings) == {(good.batch_id, t) for t in ("T1", "T2", "T3")}
    assert build_args(settings) == PLAIN_BUILD + ["--full-refresh"]
    status = cli("status", "--data-dir", str(tmp_path))
    assert f"retired teams/teams.csv (batch {bad.batch_id}, 1 rows)" in " ".join(status.output.split())
    assert "cut in half by the export" in status.output

    # nothing left to retire under that name and content
    again = cli("retire", bad.batch_id, "--reason", "twice", "--data-dir", str(tmp_path))
    assert again.exit_code == 1 and "no loaded batch" in again.output

    # the good file landed again: that very file (path and content) is loaded already; the teams are whole
    landed.write_text(FULL)
    assert ingest_all(settings) == []
    assert raw_teams(settings) == {(good.batch_id, t) for t in ("T1", "T2", "T3")}

    # the retired content, landed again (say after a profile fix), loads again as a new batch
    (landed.parent / "teams_again.csv").write_text(CUT)
    (reloaded,) = ingest_all(settings)
    assert (reloaded.status, reloaded.rows_loaded) == ("loaded", 1) and reloaded.batch_id != bad.batch_id

    # what the dbt step does once dbt has succeeded
    clear_full_refresh(settings.warehouse_dir)
    commit_refresh(settings, plan_build(settings)[0])
    assert build_args(settings) == PLAIN_BUILD
