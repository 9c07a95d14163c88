"""Operational policies, set once here and applied to every asset (dagster-open-platform style)."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

# Transient failures (a file still being synced, a busy PostgreSQL) get two more tries; a real
# defect fails the same way three times and surfaces with the original error.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Every asset that writes the warehouse or the raw zone runs in this pool, limited to one slot in
# dagster.yaml, so two runs never fight over the single-writer DuckDB file.
WAREHOUSE_POOL = "salesdw_warehouse"

# Marts must have been refreshed within this long (the daily schedule plus slack).
MART_FRESHNESS = timedelta(hours=26)

# The daily full refresh: when and in which time zone is configuration (Settings.schedule_cron,
# .schedule_timezone; default 06:00 China Standard Time), the schedule is in definitions.py.

# How often the landing-folder sensor looks for new files.
LANDING_SENSOR_INTERVAL_SECONDS = 60

# Step order within a run. The in-process executor runs one ready step at a time, the one with the
# highest dagster/priority first. The raw suite does not hold the dbt build back (its checks block
# the publish, not the build: orchestration/quality/asset_checks.py): it runs in the background
# while dbt works in its own process (orchestration/quality/raw_audit.py), and its checks step, right
# after the build, reports it. The publish comes after that step; publish.py refuses anyway while
# a suite has no result for the build it would publish.
BUILD_STEP_TAGS = {"dagster/priority": "2"}
RAW_AUDIT_STEP_TAGS = {"dagster/priority": "1"}
