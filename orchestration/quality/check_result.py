"""One data-quality check outcome: a row of quality.check_results (../shared/spec/marts.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

# The columns of quality.check_results, in contract order, with their DuckDB types.
CHECK_RESULT_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR",
    "layer": "VARCHAR",
    "asset": "VARCHAR",  # Dagster asset key joined by '/': raw/orders, marts/dim_customers
    "check_name": "VARCHAR",
    "passed": "BOOLEAN",
    "severity": "VARCHAR",  # error (blocks the publish) | warn
    "observed_value": "VARCHAR",
    "details": "VARCHAR",
    "checked_at": "TIMESTAMP",  # UTC
}


@dataclass(frozen=True)
class CheckResult:
    run_id: str
    layer: str
    asset: str
    check_name: str
    passed: bool
    severity: str
    observed_value: str
    details: str
    checked_at: datetime

    @classmethod
    def now(cls, **fields) -> "CheckResult":
        """A result checked right now (UTC, like every checked_at)."""
        return cls(checked_at=datetime.now(timezone.utc).replace(tzinfo=None), **fields)

    @property
    def blocking(self) -> bool:
        """A failed error-severity check: the build must not be published."""
        return not self.passed and self.severity == "error"

    @property
    def asset_key_path(self) -> list[str]:
        return self.asset.split("/")

    def as_row(self) -> dict:
        return asdict(self)
