"""The Dagster resource that carries the one data directory to every asset."""

from __future__ import annotations

import dagster as dg

from orchestration.settings import Settings, get_settings


class SalesdwResource(dg.ConfigurableResource):
    """Where the data lives. Empty data_dir = $SALESDW_DATA_DIR or ./data (orchestration/settings.py)."""

    data_dir: str = ""

    @property
    def settings(self) -> Settings:
        settings = get_settings(self.data_dir or None)
        settings.ensure_dirs()
        return settings
