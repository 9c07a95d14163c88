"""One more day of events after the generated period, for the incremental benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demo.activities import ACTIVITY_TYPES, DIRECTIONS, activities_table, rep_activity_level
from demo.company import build_company
from demo.exports import Exports, read_manifest, write_manifest
from demo.period import SECONDS_PER_DAY, Groups, business_seconds, rng_for, weighted_choice
from demo.sales import (
    COMPLETED,
    PENDING,
    SHARE_ORDERS_SURVEYED,
    SHARE_ORDERS_WITHOUT_REP,
    nps_scores,
    order_lines_for,
    order_lines_table,
    orders_table,
    scaled_order_rates,
    survey_comments,
    surveys_table,
)
from demo.vocab import ACTIVITY_KINDS, ACTIVITY_OUTCOMES, ORDER_CHANNEL_WEIGHTS


def generate_next_day(
    out_dir: Path, *, scale: float = 1, seed: int = 42, start: str = "2024-01", months: int = 24
) -> dict:
    """Write one more day of events after the generated period (orders, order_lines, activities,
    survey_responses) as `<entity>/<entity>_<YYYY-MM-DD>.csv`, with new ids continuing the
    manifest's counters and only existing accounts, reps and products. The day is treated as a
    working day (the benchmark always gets a full day of events). Deterministic; calling it again
    rewrites the same files. Returns {"date", "files": {entity: relative path}, "rows": {entity: n}}."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    params = manifest["parameters"]
    if (params["scale"], params["seed"], params["start"], params["months"]) != (scale, seed, start, months):
        raise ValueError(
            f"{out_dir} was generated with {params}, not scale={scale} seed={seed} start={start} months={months}"
        )
    counters = manifest["id_counters"]
    company = build_company(scale, seed, start, months)
    period, org, accounts, catalog = company.period, company.org, company.accounts, company.catalog
    day = period.end_day + 1
    day_text = str(np.datetime64(day, "D"))
    rng = rng_for(seed, "next-day")
    exports = Exports(out_dir)
    entities = ("orders", "order_lines", "activities", "survey_responses")
    paths = {e: out_dir / e / f"{e}_{day_text}.csv" for e in entities}

    # orders of the day from customers still buying
    rates = scaled_order_rates(period, accounts, company.opps, scale)
    buying = np.flatnonzero((accounts.first_active_day < day) & (accounts.churn_day >= day))
    # the benchmark day is a full working day, whatever its weekday
    demand = float(period.demand(np.array([day]), working_day=True)[0])
    account = np.repeat(buying, rng.poisson(rates[buying] * demand))
    n = len(account)
    numbers = counters["orders"] + np.arange(n)
    rep = accounts.owner_on(account, np.full(n, day))
    rep = np.where(rng.random(n) < SHARE_ORDERS_WITHOUT_REP, -1, rep)
    status = np.where(rng.random(n) < 0.4, PENDING, COMPLETED)
    rows = {}
    with exports.open("orders", paths["orders"]) as sink:
        sink.write(
            orders_table(
                numbers,
                account,
                rep,
                np.full(n, -1),
                np.full(n, day),
                status,
                weighted_choice(rng, ORDER_CHANNEL_WEIGHTS, n),
            )
        )
        rows["orders"] = sink.rows
    position, line_number, product, quantity, price, discount, _ = order_lines_for(rng, catalog, n)
    with exports.open("order_lines", paths["order_lines"]) as sink:
        sink.write(order_lines_table(numbers[position], line_number, product, quantity, price, discount))
        rows["order_lines"] = sink.rows

    # a working day for every rep still employed
    employed = np.flatnonzero(org.employed(np.arange(org.n_reps), np.full(org.n_reps, day)))
    level = rep_activity_level(org, seed)[employed]
    rates_by_kind = np.array([rate for _, _, rate in ACTIVITY_KINDS])
    counts = rng.poisson(np.outer(level, rates_by_kind))
    act_rep = np.repeat(np.repeat(employed, len(ACTIVITY_KINDS)), counts.ravel())
    kind = np.repeat(np.tile(np.arange(len(ACTIVITY_KINDS)), len(employed)), counts.ravel())
    occurred = np.sort(day * SECONDS_PER_DAY + business_seconds(rng, len(act_rep)))
    activity_type = np.array([ACTIVITY_TYPES.index(t) for t, _, _ in ACTIVITY_KINDS])[kind]
    direction = np.array([DIRECTIONS.index(d) for _, d, _ in ACTIVITY_KINDS])[kind]
    act_account = Groups(accounts.owner, np.arange(accounts.n), org.n_reps).pick(rng, act_rep)
    unanswered = (direction == 0) | (rng.random(len(act_rep)) < 0.3)
    responded = occurred + (rng.lognormal(np.log(3.0), 1.0, len(act_rep)) * 3600).astype(np.int64)
    duration = 5 + rng.integers(0, 60, len(act_rep))
    first_outcome = np.cumsum([0] + [len(ACTIVITY_OUTCOMES[t]) for t in ACTIVITY_TYPES])[:-1][activity_type]
    with exports.open("activities", paths["activities"]) as sink:
        sink.write(
            activities_table(
                counters["activities"] + np.arange(len(act_rep)),
                act_rep,
                act_account,
                np.full(len(act_rep), -1),
                activity_type,
                direction,
                occurred,
                responded,
                unanswered,
                duration,
                first_outcome,
            )
        )
        rows["activities"] = sink.rows

    # same-day NPS responses to some of the day's completed orders
    surveyed = np.flatnonzero((status == COMPLETED) & (rng.random(n) < SHARE_ORDERS_SURVEYED * 2))
    survey_account = account[surveyed]
    score = nps_scores(rng, accounts.satisfaction[survey_account])
    survey_type = np.zeros(len(surveyed), dtype=np.int64)
    with exports.open("survey_responses", paths["survey_responses"]) as sink:
        sink.write(
            surveys_table(
                counters["survey_responses"] + np.arange(len(surveyed)),
                survey_type,
                day * SECONDS_PER_DAY + 18 * 3600 + rng.integers(0, 5 * 3600, len(surveyed)),
                score,
                survey_account,
                company.contacts.of_account.pick(rng, survey_account),
                numbers[surveyed],
                np.full(len(surveyed), -1),
                survey_comments(rng, survey_type, score),
            )
        )
        rows["survey_responses"] = sink.rows
    files = {e: p.relative_to(out_dir).as_posix() for e, p in paths.items()}
    # recorded so the next `generate` into this folder removes them too
    manifest["next_day_files"] = sorted(set(manifest.get("next_day_files", [])) | set(files.values()))
    write_manifest(out_dir, manifest)
    return {"date": day_text, "files": files, "rows": rows}
