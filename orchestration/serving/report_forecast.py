"""The report's "Forecast and pipeline" section (marts.md "History: what was known then").

Three charts and a table, read from the history marts:
- forecast against actual per close month: the forecast made at the end of the month before
  (horizon 1, all teams), seed-probability and calibrated side by side, with their errors;
- the pipeline waterfall of the last full month (all teams);
- each open stage's historical win rate against its seed probability (all teams).

report_data.py calls load_frames() while it reads the marts; report.py lists CHARTS among its sections; the
builders take the report's data (frames by name) and labels, and draw "no data" when a mart is
missing or empty.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import altair as alt
import pandas as pd

from orchestration.serving.report_charts import CHART_WIDTH, no_data_chart
from orchestration.serving.report_data import add_months

FORECAST_MONTHS = 12  # close months shown on the forecast chart and table
WATERFALL_STEPS = (  # (measure, sign): the order marts.md reconciles in
    ("new_amount", 1),
    ("amount_increased", 1),
    ("amount_decreased", -1),
    ("won_amount", -1),
    ("lost_amount", -1),
    ("moved_in_amount", 1),
    ("moved_out_amount", -1),
    ("other_in_amount", 1),
    ("other_out_amount", -1),
)
COLORS = {"total": "#4c78a8", "up": "#54a24b", "down": "#e45756"}


def load_frames(m, month: date) -> dict[str, pd.DataFrame]:
    """The section's frames; `m` reads the marts (report_data._Marts), `month` is the last full month."""
    waterfall_sums = ", ".join(
        f"sum({c}) as {c}" for c in ("open_start_amount", "open_end_amount", *(s for s, _ in WATERFALL_STEPS))
    )
    return {
        "forecast_accuracy": m.frame(
            "mart_forecast_accuracy",
            """
            select close_month as month, sum(forecast_amount) as forecast_amount,
                   sum(calibrated_forecast_amount) as calibrated_forecast_amount,
                   sum(actual_won_amount) as actual_won_amount
            from marts.mart_forecast_accuracy
            where horizon_months = 1 and close_month between ? and ?
            group by close_month order by close_month""",
            [add_months(month, 1 - FORECAST_MONTHS), month],
        ),
        "pipeline_waterfall": m.frame(
            "mart_pipeline_movement_monthly",
            f"""
            select {waterfall_sums} from marts.mart_pipeline_movement_monthly where month = ?
            having count(*) > 0""",
            [month],
        ),
        "stage_win_rates": m.frame(
            "mart_stage_win_rates",
            """
            select stage_order, stage, closed_reached, won, historical_win_rate, seed_probability
            from marts.mart_stage_win_rates where team_id is null order by stage_order""",
        ),
    }


def _cents(value) -> Decimal:
    """An amount read through pandas (a float) back to exact cents."""
    return Decimal(f"{float(value):.2f}")


def _float(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def forecast_rows(data) -> list[dict]:
    """Per close month: actual, seed and calibrated forecasts and their errors (forecast − actual)."""
    df = data.frames.get("forecast_accuracy", pd.DataFrame())
    rows = []
    for r in df.itertuples(index=False):
        actual = _cents(r.actual_won_amount)
        seed, calibrated = _cents(r.forecast_amount), _cents(r.calibrated_forecast_amount)
        rows.append(
            {
                "month": r.month,
                "actual": actual,
                "seed": seed,
                "seed_error": seed - actual,
                "calibrated": calibrated,
                "calibrated_error": calibrated - actual,
            }
        )
    return rows


def _forecast_chart(data, L: dict) -> alt.TopLevelMixin:
    title = L["chart_forecast_accuracy"]
    rows = forecast_rows(data)
    if not rows:
        return no_data_chart(L, title)
    measures = [("actual", L["actual_won"]), ("seed", L["seed_forecast"]), ("calibrated", L["calibrated_forecast"])]
    long = pd.DataFrame(
        [
            {
                "month": r["month"],
                "measure": label,
                "order": i,
                "amount": float(r[key]),
                "error": None if key == "actual" else float(r[f"{key}_error"]),
            }
            for r in rows
            for i, (key, label) in enumerate(measures)
        ]
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("month:O", title=L["month"], axis=alt.Axis(labelAngle=-45)),
            xOffset=alt.XOffset("measure:N", sort=[label for _, label in measures]),
            y=alt.Y("amount:Q", title=L["amount"]),
            color=alt.Color(
                "measure:N",
                title=L["measure"],
                sort=[label for _, label in measures],
                scale=alt.Scale(range=["#4c78a8", "#f58518", "#54a24b"]),
            ),
            tooltip=[
                alt.Tooltip("month:O", title=L["month"]),
                alt.Tooltip("measure:N", title=L["measure"]),
                alt.Tooltip("amount:Q", title=L["amount"], format=",.2f"),
                alt.Tooltip("error:Q", title=L["forecast_error"], format=",.2f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def waterfall_steps(data, L: dict) -> list[dict]:
    """The waterfall's bars: start, each movement (signed), end; each with where it starts and ends."""
    df = data.frames.get("pipeline_waterfall", pd.DataFrame())
    if df.empty or df.iloc[0].isna().all():
        return []
    row = df.iloc[0]
    start = _float(row["open_start_amount"]) or 0.0
    steps = [{"step": L["waterfall.open_start"], "kind": "total", "low": 0.0, "high": start, "value": start}]
    level = start
    for measure, sign in WATERFALL_STEPS:
        value = sign * (_float(row[measure]) or 0.0)
        steps.append(
            {
                "step": L[f"waterfall.{measure}"],
                "kind": "up" if value >= 0 else "down",
                "low": min(level, level + value),
                "high": max(level, level + value),
                "value": value,
            }
        )
        level += value
    end = _float(row["open_end_amount"]) or 0.0
    steps.append({"step": L["waterfall.open_end"], "kind": "total", "low": 0.0, "high": end, "value": end})
    return steps


def _waterfall_chart(data, L: dict) -> alt.TopLevelMixin:
    month = data.report_month.strftime("%Y-%m") if data.report_month else L["unknown"]
    title = L["chart_pipeline_waterfall"].format(month=month)
    steps = waterfall_steps(data, L)
    if not steps:
        return no_data_chart(L, title)
    df = pd.DataFrame(steps)
    df["order"] = range(len(df))
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("step:N", title=None, sort=alt.EncodingSortField("order"), axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("low:Q", title=L["amount"]),
            y2="high:Q",
            color=alt.Color("kind:N", legend=None, scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values()))),
            tooltip=[
                alt.Tooltip("step:N", title=L["measure"]),
                alt.Tooltip("value:Q", title=L["amount"], format=",.2f"),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


def _win_rates_chart(data, L: dict) -> alt.TopLevelMixin:
    title = L["chart_stage_win_rates"]
    df = data.frames.get("stage_win_rates", pd.DataFrame())
    if df.empty:
        return no_data_chart(L, title)
    kinds = [("historical_win_rate", L["historical_win_rate"]), ("seed_probability", L["seed_probability"])]
    long = pd.DataFrame(
        [
            {
                "stage": L.get(f"opp_stage.{r.stage}", r.stage),
                "stage_order": r.stage_order,
                "kind": label,
                "rate": _float(getattr(r, column)),
                "closed_reached": int(r.closed_reached),
                "won": int(r.won),
            }
            for r in df.itertuples(index=False)
            for column, label in kinds
        ]
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("stage:N", title=L["stage"], sort=alt.EncodingSortField("stage_order")),
            xOffset=alt.XOffset("kind:N", sort=[label for _, label in kinds]),
            y=alt.Y("rate:Q", title=L["win_rate"], axis=alt.Axis(format=".0%")),
            color=alt.Color("kind:N", title=L["measure"], sort=[label for _, label in kinds]),
            tooltip=[
                alt.Tooltip("stage:N", title=L["stage"]),
                alt.Tooltip("kind:N", title=L["measure"]),
                alt.Tooltip("rate:Q", title=L["win_rate"], format=".1%"),
                alt.Tooltip("won:Q", title=L["won_deals"]),
                alt.Tooltip("closed_reached:Q", title=L["closed_deals"]),
            ],
        )
        .properties(width=CHART_WIDTH, height=240, title=title)
    )


CHARTS = [
    ("forecast_accuracy", _forecast_chart),
    ("pipeline_waterfall", _waterfall_chart),
    ("stage_win_rates", _win_rates_chart),
]


def forecast_table(data, L: dict, money) -> dict:
    """The forecast-against-actual table under the charts (money formats an amount)."""
    columns = [
        ("month", "month", False),
        ("actual", "actual_won", True),
        ("seed", "seed_forecast", True),
        ("seed_error", "seed_error", True),
        ("calibrated", "calibrated_forecast", True),
        ("calibrated_error", "calibrated_error", True),
    ]
    rows = [
        {
            "key": r["month"],
            "raw": {k: str(r[k]) for k, _, numeric in columns if numeric},
            "cells": {k: r[k] if k == "month" else money(r[k]) for k, _, _ in columns},
        }
        for r in forecast_rows(data)
    ]
    return {
        "id": "forecast-accuracy",
        "note": L["forecast_table_note"],
        "columns": [{"key": k, "title": L[label], "numeric": numeric} for k, label, numeric in columns],
        "rows": rows,
    }
