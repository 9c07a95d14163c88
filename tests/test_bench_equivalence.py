"""The benchmark's correctness claim: on the same exports, the plain-DuckDB floor (bench/floor.sql)
and the plain-pandas version (bench/pandas_marts.py) compute mart_rep_kpi_monthly and
dim_customers exactly as the pipeline does, row for row. Uses the demo run of conftest.py (the real
CLI on a small generated company) and checks a few totals against the CSVs read with plain Python.
Also: bench/fixed_cost.py splits a run with dbt's own log, on a hand-written log."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench.compare import MARTS, compare_frames, compare_outputs, pipeline_marts
from bench.fixed_cost import dbt_log_times
from bench.floor import run_floor
from bench.pandas_marts import compute


@pytest.fixture(scope="module")
def pipeline(demo_run) -> dict[str, pd.DataFrame]:
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    return pipeline_marts(demo_run.warehouse)


@pytest.fixture(scope="module")
def floor(demo_run, tmp_path_factory) -> dict[str, pd.DataFrame]:
    with duckdb.connect() as con:
        run_floor(demo_run.exports, con, tmp_path_factory.mktemp("floor"))
        return {output: con.execute(f"select * from {output}").df() for output, _ in MARTS.values()}


@pytest.fixture(scope="module")
def pandas_version(demo_run) -> dict[str, pd.DataFrame]:
    return compute(demo_run.exports)


def read_csv_rows(exports: Path, entity: str) -> list[dict[str, str]]:
    with open(exports / entity / f"{entity}.csv", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_floor_equals_pipeline_row_for_row(pipeline, floor):
    assert compare_outputs(pipeline, floor) == {"rep_kpi_monthly": [], "dim_customers": []}


def test_pandas_equals_pipeline_row_for_row(pipeline, pandas_version):
    assert compare_outputs(pipeline, pandas_version) == {"rep_kpi_monthly": [], "dim_customers": []}


def test_the_compared_data_exercises_every_rule(pipeline):
    """Agreement means something only if the data has refunds, deals, surveys, targets, every
    lifecycle stage but possibly one, and zero-filled months."""
    kpi, customers = pipeline["rep_kpi_monthly"], pipeline["dim_customers"]
    for column in (
        "refunds_amount",
        "new_customers",
        "opportunities_won",
        "opportunities_lost",
        "inbound_emails_answered",
        "nps_responses",
        "csat_responses",
        "revenue_target",
        "net_revenue_prev_year",
    ):
        assert kpi[column].fillna(0).astype(float).gt(0).any(), column
    assert (kpi.orders_count == 0).any()  # zero-filled rep months
    assert customers.lifecycle_stage.nunique() >= 5
    assert customers.latest_nps_score.notna().any() and (customers.open_cases > 0).any()


def owner_on_day(accounts: list[dict[str, str]]):
    """The account's owner on a day (exports.md): its row with the greatest valid_from <= day, before
    the first one the first; a row without valid_from is effective from the day its file landed,
    after every business date. Days are ISO strings, so they compare as text."""
    history = defaultdict(list)
    for a in accounts:
        history[a["account_id"]].append((a["valid_from"] or "9999-12-31", a["owner_rep_id"]))
    for versions in history.values():
        versions.sort()

    def owner(account_id: str, day: str) -> str:
        versions = history.get(account_id, [])
        then = [rep for start, rep in versions if start <= day]
        return then[-1] if then else (versions[0][1] if versions else "")

    return owner


def test_totals_match_the_csv_files_read_with_plain_python(demo_run, pipeline, floor, pandas_version):
    exports = demo_run.exports
    accounts = read_csv_rows(exports, "accounts")
    owner = owner_on_day(accounts)
    # an order without rep_id is the account owner's on the order date
    completed = {
        o["order_id"]: (o["rep_id"] or owner(o["account_id"], o["order_date"]))
        for o in read_csv_rows(exports, "orders")
        if o["status"] == "completed"
    }
    gross: dict[str, Decimal] = defaultdict(Decimal)
    for line in read_csv_rows(exports, "order_lines"):
        rep = completed.get(line["order_id"])
        if rep:  # a completed order credited to a rep
            gross[rep] += Decimal(line["quantity"]) * Decimal(line["unit_price"]) - Decimal(
                line["discount_amount"] or 0
            )
    buyers = defaultdict(int)
    for o in read_csv_rows(exports, "orders"):
        if o["status"] == "completed":
            buyers[o["account_id"]] += 1
    account_ids = {a["account_id"] for a in accounts}
    prospects = sum(1 for a in account_ids if buyers[a] == 0)
    for version in (pipeline, floor, pandas_version):
        kpi, customers = version["rep_kpi_monthly"], version["dim_customers"]
        per_rep = kpi.groupby("rep_id").gross_revenue.apply(lambda s: float(s.astype(float).sum()))
        assert set(per_rep[per_rep != 0].index) == set(gross)
        for rep, amount in gross.items():
            assert abs(per_rep[rep] - float(amount)) < 0.01, rep
        assert len(customers) == len(account_ids)
        assert (customers.lifecycle_stage == "prospect").sum() == prospects
        assert customers.lifetime_orders.astype(int).sum() == sum(buyers[a] for a in account_ids)


def test_comparison_finds_a_cent_a_stage_and_a_missing_row(pipeline):
    kpi = pipeline["rep_kpi_monthly"]
    keys = MARTS["mart_rep_kpi_monthly"][1]
    off_by_a_cent = kpi.copy()
    off_by_a_cent.loc[off_by_a_cent.index[0], "gross_revenue"] = float(kpi.gross_revenue.iloc[0]) + 0.01
    assert any(p.startswith("gross_revenue: 1 rows differ") for p in compare_frames(kpi, off_by_a_cent, keys))
    assert any("rows missing" in p for p in compare_frames(kpi, kpi.iloc[1:], keys))

    customers = pipeline["dim_customers"]
    other_stage = customers.copy()
    other_stage.loc[other_stage.index[0], "lifecycle_stage"] = (
        "vip" if customers.lifecycle_stage.iloc[0] != "vip" else "new"
    )
    problems = compare_frames(customers, other_stage, ["account_id"])
    assert len(problems) == 1 and problems[0].startswith("lifecycle_stage: 1 rows differ")
    null_score = customers.copy()
    null_score["latest_nps_score"] = None
    assert any(p.startswith("latest_nps_score") for p in compare_frames(customers, null_score, ["account_id"]))


REPS_HEADER = "rep_id,rep_name,email,team_id,manager_rep_id,region,hire_date,end_date,status,valid_from\n"
TINY_COMPANY = {
    "teams/teams.csv": "team_id,team_name,region,manager_rep_id,valid_from\nT1,East,East,,\nT2,North,North,,\n",
    # R3 moves from T1 to T2 on 1 February (dated month-end snapshots), R2 from T2 to T1 on 10 March,
    # which only the undated file (the state now) tells
    "reps/reps_2025-01-31.csv": REPS_HEADER
    + "R1,Li,,T1,,East,2020-01-01,,active,\nR2,Wang,,T2,,North,2020-01-01,,active,\n"
    "R3,Zhao,,T1,,East,2020-01-01,,active,\n",
    "reps/reps_2025-02-28.csv": REPS_HEADER
    + "R1,Li,,T1,,East,2020-01-01,,active,\nR2,Wang,,T2,,North,2020-01-01,,active,\n"
    "R3,Zhao,,T2,,North,2020-01-01,,active,2025-02-01\n",
    "reps/reps.csv": REPS_HEADER
    + "R1,Li,,T1,,East,2020-01-01,,active,\nR2,Wang,,T1,,East,2020-01-01,,active,2025-03-10\n"
    "R3,Zhao,,T2,,North,2020-01-01,,active,2025-02-01\n",
    # A1 passes from R1 to R2 on 15 February
    "accounts/accounts.csv": "account_id,account_name,industry,region,city,owner_rep_id,created_at,lead_source,"
    "valid_from\nA1,Alpha,,East,,R1,2024-12-01 00:00:00,,2024-12-01\n"
    "A1,Alpha,,East,,R2,2024-12-01 00:00:00,,2025-02-15\n"
    "A2,Beta,,North,,R3,2024-12-01 00:00:00,,\n",
    "orders/orders.csv": "order_id,account_id,rep_id,opportunity_id,order_date,status,channel,currency\n"
    "O1,A1,,,2025-01-10,completed,,\nO2,A1,,,2025-02-20,completed,,\n"
    "O3,A2,,,2025-03-05,completed,,\nO4,A1,R3,,2025-02-14,completed,,\n",
    "order_lines/order_lines.csv": "order_id,line_number,product_id,quantity,unit_price,discount_amount\n"
    "O1,1,P1,1,100,\nO2,1,P1,1,200,\nO3,1,P1,1,300,\nO4,1,P1,1,400,\n",
    "survey_responses/survey_responses.csv": "response_id,survey_type,submitted_at,score,account_id,contact_id,"
    "order_id,case_id,comment\nS1,nps,2025-02-10 09:00:00,10,A1,,,,\n"
    "S2,csat,2025-03-20 09:00:00,5,A1,,,,\nS3,nps,2025-03-02 09:00:00,3,,,O2,,\n",
    "returns/returns.csv": "return_id,order_id,line_number,return_date,quantity,refund_amount,reason\n",
    "opportunities/opportunities.csv": "opportunity_id,owner_rep_id,stage,account_id,lead_id,product_id,created_at,"
    "close_date,amount,currency,lost_reason,updated_at\n",
    "opportunity_stage_history/h.csv": "opportunity_id,stage,entered_at,amount,close_date\n",
    "activities/activities.csv": "activity_id,rep_id,account_id,opportunity_id,activity_type,direction,occurred_at,"
    "responded_at,duration_minutes,outcome\n",
    "contacts/contacts.csv": "contact_id,account_id,full_name,email,phone,title,created_at\n",
    "cases/cases.csv": "case_id,account_id,opened_at,category,severity,channel,owner_rep_id,first_response_at,"
    "resolved_at,status\n",
    "targets/targets.csv": "month,metric,target_value,rep_id,team_id\n",
}


def test_floor_and_pandas_attribute_point_in_time_on_a_tiny_company(tmp_path):
    """Worked by hand from TINY_COMPANY (marts.md "Point in time"): an order without rep_id is the
    account owner's on the order date, a rep's team in a month is the one on its last day (on
    as_of_date, 20 March, in March), a survey without an order goes to the owner on its day, one
    with an order to that order's rep; dim_customers shows the owner and team on as_of_date."""
    exports = tmp_path / "exports"
    for name, text in TINY_COMPANY.items():
        (exports / name).parent.mkdir(parents=True, exist_ok=True)
        (exports / name).write_text(text, encoding="utf-8")
    with duckdb.connect() as con:
        run_floor(exports, con, tmp_path)
        floor_version = {output: con.execute(f"select * from {output}").df() for output, _ in MARTS.values()}
    expected = {  # (rep, month) -> (team_id, region, gross_revenue, nps_responses, csat_responses)
        ("R1", "2025-01"): ("T1", "East", 100, 0, 0),
        ("R1", "2025-02"): ("T1", "East", 0, 1, 0),
        ("R1", "2025-03"): ("T1", "East", 0, 0, 0),
        ("R2", "2025-01"): ("T2", "North", 0, 0, 0),
        ("R2", "2025-02"): ("T2", "North", 200, 0, 0),
        ("R2", "2025-03"): ("T1", "East", 0, 1, 1),
        ("R3", "2025-01"): ("T1", "East", 0, 0, 0),
        ("R3", "2025-02"): ("T2", "North", 400, 0, 0),
        ("R3", "2025-03"): ("T2", "North", 300, 0, 0),
    }
    for version in (floor_version, compute(exports)):
        kpi = version["rep_kpi_monthly"]
        got = {
            (r.rep_id, str(r.month)[:7]): (
                r.team_id,
                r.region,
                float(r.gross_revenue),
                int(r.nps_responses),
                int(r.csat_responses),
            )
            for r in kpi.itertuples()
        }
        assert got == expected
        customers = version["dim_customers"].set_index("account_id")
        assert customers.loc["A1", ["owner_rep_id", "team_id"]].tolist() == ["R2", "T1"]
        assert customers.loc["A2", ["owner_rep_id", "team_id"]].tolist() == ["R3", "T2"]


# bench/fixed_cost.py reads the last dbt invocation from dbt's JSON log, across its rotation.


def _dbt_log_line(invocation: str, name: str, ts: str) -> str:
    return json.dumps({"data": {}, "info": {"invocation_id": invocation, "name": name, "ts": ts, "msg": ""}})


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).replace(tzinfo=timezone.utc).timestamp()


def test_the_last_invocation_is_read_across_the_rotated_log(tmp_path):
    # an older invocation, then the last one whose first lines were rotated into dbt.log.1
    (tmp_path / "dbt.log.1").write_text(
        "\n".join(
            [
                _dbt_log_line("old", "MainReportVersion", "2026-12-06T10:00:00Z"),
                _dbt_log_line("old", "NodeStart", "2026-12-06T10:00:01Z"),
                _dbt_log_line("old", "CommandCompleted", "2026-12-06T10:00:09Z"),
                _dbt_log_line("new", "MainReportVersion", "2026-12-06T11:00:00.500000Z"),
                _dbt_log_line("new", "NodeStart", "2026-12-06T11:00:03Z"),
            ]
        )
        + "\n"
    )
    (tmp_path / "dbt.log").write_text(
        "\n".join(
            [
                _dbt_log_line("new", "NodeStart", "2026-12-06T11:00:04Z"),
                _dbt_log_line("new", "NodeFinished", "2026-12-06T11:00:10.250000Z"),
                _dbt_log_line("new", "CommandCompleted", "2026-12-06T11:00:11Z"),
            ]
        )
        + "\n"
    )
    times = dbt_log_times(tmp_path)
    assert times == {
        "first": _epoch("2026-12-06T11:00:00.500000"),
        "last": _epoch("2026-12-06T11:00:11"),
        "first_node": _epoch("2026-12-06T11:00:03"),
        "last_node": _epoch("2026-12-06T11:00:10.250000"),
    }


def test_no_log_gives_no_times(tmp_path):
    assert dbt_log_times(tmp_path) == {}


def test_repeated_rounds_alternate_and_compare_the_medians(tmp_path, monkeypatch):
    """why: this VM's speed drifts within minutes, so one full run against one floor is a coin toss;
    with --repeat the two alternate, each full run in a fresh data dir, and the medians are compared."""
    import argparse

    from bench import run as bench_run
    from bench.measure import Measured

    exports = tmp_path / "exports"
    (exports / "orders").mkdir(parents=True)
    (exports / "orders" / "orders.csv").write_text("order_id\n1\n")
    calls, pipeline_seconds, floor_seconds = [], iter([50.0, 44.0, 47.0]), iter([9.0, 7.0, 8.0])

    def fake_pipeline(data_dir, log):
        landed = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())
        (data_dir / "left_by_the_run").write_text("")  # the next round must not find it
        calls.append(("pipeline", landed))
        return {"measured": {"seconds": next(pipeline_seconds)}}

    def fake_floor(module, exports_dir, out, log, *, memory_limit, timeout):
        calls.append(("floor", module))
        return Measured(["floor"], 0, next(floor_seconds), 0.0, 0, 0, 0.0, 0.0, log=str(log))

    monkeypatch.setattr(bench_run, "pipeline_run", fake_pipeline)
    monkeypatch.setattr(bench_run, "baseline_run", fake_floor)
    args = argparse.Namespace(repeat=3, timeout=None)

    runs = tmp_path / "runs"
    full, floor, samples = bench_run.full_runs_and_floors(
        args, 50, exports, runs / "data", runs / "floor", tmp_path / "logs"
    )

    landed = ["landing/canonical/orders/orders.csv"]
    assert calls == [("pipeline", landed), ("floor", "bench.floor")] * 3
    assert (full["measured"]["seconds"], floor.seconds) == (47.0, 8.0)
    assert samples == {"pipeline s": [50.0, 44.0, 47.0], "floor s": [9.0, 7.0, 8.0]}
    assert bench_run.median_of([3, 1, 2, 4], float) == 2  # an even count: the lower middle one
