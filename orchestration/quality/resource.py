"""The Dagster resource the quality checks need: where the warehouses and the results store are."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from orchestration.settings import Settings, get_settings


class QualityResource(dg.ConfigurableResource):
    """Bind as `quality`: QualityResource(data_dir=str(settings.data_dir))."""

    data_dir: str

    @property
    def settings(self) -> Settings:
        return get_settings(self.data_dir)

    @property
    def build_warehouse(self) -> Path:
        return self.settings.build_warehouse

    @property
    def serving_warehouse(self) -> Path:
        return self.settings.serving_warehouse

    @property
    def quality_dir(self) -> Path:
        return self.settings.quality_dir

    def run_suite(self, layer: str, run_id: str):
        """Audit the build warehouse; row counts compare with the serving warehouse when published."""
        from orchestration.quality import run_suite

        as_of = self.settings.as_of_date
        serving = self.serving_warehouse
        return run_suite(layer, self.build_warehouse, run_id=run_id, quality_dir=self.quality_dir,
                         as_of_date=date.fromisoformat(as_of) if as_of else None,
                         previous_warehouse=serving if serving.exists() else None)
