"""The daily refresh runs at 06:00 in the company's time zone (configurable), not at 06:00 UTC."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from dagster._utils.schedules import cron_string_iterator

from orchestration.definitions import daily_schedule, defs
from orchestration.settings import get_settings


def _first_tick_after(schedule, moment: datetime) -> datetime:
    ticks = cron_string_iterator(moment.timestamp(), schedule.cron_schedule, schedule.execution_timezone)
    return next(ticks).astimezone(timezone.utc)


def test_the_daily_refresh_runs_at_six_in_china_standard_time():
    [schedule] = [s for s in defs.get_repository_def().schedule_defs if s.name == "daily_full_refresh"]
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "Asia/Shanghai")
    # 06:00 at UTC+8 is 22:00 UTC of the day before
    assert _first_tick_after(schedule, datetime(2026, 3, 1, 12, tzinfo=timezone.utc)) == datetime(
        2026, 3, 1, 22, tzinfo=timezone.utc
    )


def test_cron_and_time_zone_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SALESDW_SCHEDULE_CRON", "30 5 * * 1-5")
    monkeypatch.setenv("SALESDW_SCHEDULE_TIMEZONE", "Europe/Berlin")
    schedule = daily_schedule(get_settings(tmp_path))
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 5 * * 1-5", "Europe/Berlin")
    # Friday 2026-07-03, summer time (UTC+2): 05:30 in Berlin is 03:30 UTC; then Monday
    assert _first_tick_after(schedule, datetime(2026, 7, 3, 0, tzinfo=timezone.utc)) == datetime(
        2026, 7, 3, 3, 30, tzinfo=timezone.utc
    )
    assert _first_tick_after(schedule, datetime(2026, 7, 3, 4, tzinfo=timezone.utc)) == datetime(
        2026, 7, 6, 3, 30, tzinfo=timezone.utc
    )


@pytest.mark.parametrize(
    "variable, value", [("SALESDW_SCHEDULE_TIMEZONE", "China/Beijing"), ("SALESDW_SCHEDULE_CRON", "0 25 * * *")]
)
def test_a_bad_schedule_setting_is_a_clear_error(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=re.escape(f"{variable}='{value}'")):
        daily_schedule(get_settings(tmp_path))
