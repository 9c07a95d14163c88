"""The landing-folder sensor asks for exactly one run per new batch of files, and none for files
the ledger already holds."""

from __future__ import annotations

import dagster as dg

from ingestion.loader import ingest
from orchestration.definitions import landing_folder_sensor
from orchestration.settings import get_settings

ACCOUNTS = "account_id,account_name,created_at\nA1,Acme,2025-01-02 09:00:00\n"


def evaluate(instance):
    result = landing_folder_sensor(dg.build_sensor_context(instance=instance))
    return result


def test_one_run_request_per_new_batch(tmp_path, monkeypatch):
    settings = get_settings(tmp_path)
    monkeypatch.setenv("SALESDW_DATA_DIR", str(tmp_path))
    folder = settings.landing_dir / "canonical" / "accounts"
    with dg.DagsterInstance.ephemeral() as instance:
        assert isinstance(evaluate(instance), dg.SkipReason)  # nothing landed

        folder.mkdir(parents=True)
        (folder / "accounts_1.csv").write_text(ACCOUNTS)
        first = evaluate(instance)
        assert isinstance(first, dg.RunRequest)
        assert evaluate(instance).run_key == first.run_key  # a repeated tick is the same request

        ingest(settings.landing_dir / "canonical", "canonical", settings.raw_dir, settings.quality_dir)
        assert isinstance(evaluate(instance), dg.SkipReason)  # loaded files do not trigger again

        (folder / "accounts_2.csv").write_text(ACCOUNTS.replace("A1,Acme", "A2,Beta"))
        second = evaluate(instance)
        assert isinstance(second, dg.RunRequest)
        assert second.run_key != first.run_key
