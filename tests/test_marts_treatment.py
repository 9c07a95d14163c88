"""The customer-treatment loop (marts.md mart_customer_treatment_monthly) on the demo company:
every cell recomputed with plain Python from the generated CSV files and the lifecycle_actions
seed (the stage at each month's end taken from fct_customer_lifecycle_monthly, which its own tests
check), and the playbook the demo follows shows in a positive, sane lift. Also: the seed's
prescribed activity types are types the activities export knows; and a hand fixture built end to
end from raw batches, its cells worked out in the comments."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from ingestion.canonical import entity
from ingestion.raw_zone import expose_file
from orchestration.settings import get_settings
from tests.support import dbt, query, write_raw_batch

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
COUNTS = [
    "customers",
    "treated_customers",
    "ordered_treated",
    "ordered_untreated",
    "reactivated_treated",
    "reactivated_untreated",
]


def _rows(exports: Path, name: str) -> list[dict[str, str]]:
    with open(exports / name / f"{name}.csv", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def prescribed_types() -> dict[str, set[str] | None]:
    """stage -> prescribed activity types; None = any type."""
    with open(SEEDS / "lifecycle_actions.csv", newline="", encoding="utf-8") as f:
        return {
            r["lifecycle_stage"]: None
            if r["prescribed_activity_types"] == "any"
            else set(r["prescribed_activity_types"].split("|"))
            for r in csv.DictReader(f)
        }


def _state_on(rows: list[dict[str, str]], key: str, value: str):
    """key's `value` column on a day: the version with the greatest valid_from <= day, before the
    first one the first (exports.md effective-dated snapshots); ISO days compare as text."""
    history = defaultdict(list)
    for r in rows:
        history[r[key]].append((r["valid_from"] or "9999-12-31", r[value]))
    for versions in history.values():
        versions.sort()

    def on(k: str, day: str) -> str | None:
        versions = history.get(k, [])
        then = [v for start, v in versions if start <= day]
        return then[-1] if then else (versions[0][1] if versions else None)

    return on


def test_seed_prescribes_only_known_activity_types():
    known = set(next(c for c in entity("activities").columns if c.name == "activity_type").enum)
    prescribed = prescribed_types()
    assert set(prescribed) == {"prospect", "new", "active", "loyal", "vip", "inactive"}
    assert all(types is None or types <= known for types in prescribed.values()), prescribed
    # the dbt test that guards a user's own seed accepts exactly the export's types
    seed_doc = yaml.safe_load((SEEDS / "lifecycle_actions.yml").read_text())
    column = next(c for c in seed_doc["seeds"][0]["columns"] if c["name"] == "prescribed_activity_types")
    assert set(column["data_tests"][0]["accepted_pipe_list"]["arguments"]["values"]) == known


def lifecycle_stages(demo_run) -> dict[tuple[str, str], str]:
    """('YYYY-MM', account) -> the account's lifecycle stage at the month's end, as the lifecycle mart states it."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        rows = con.execute("select month, account_id, lifecycle_stage from marts.fct_customer_lifecycle_monthly")
        return {(m.isoformat()[:7], a): s for m, a, s in rows.fetchall()}


@pytest.fixture(scope="module")
def warehouse(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        mart = con.execute("select * from marts.mart_customer_treatment_monthly").df()
        teams = [
            t for (t,) in con.execute("select team_id from marts.mart_team_kpi_monthly group by team_id").fetchall()
        ]
    return {"mart": mart, "stage": lifecycle_stages(demo_run), "teams": teams}


def treatment_by_hand(exports: Path, stage: dict[tuple[str, str], str]) -> dict[tuple, list[int]]:
    """(month, team, stage) -> the COUNTS, from the CSVs: the stage as the previous month ended,
    the account's owner on its last day and that rep's team then (reps.csv)."""
    owner = _state_on(_rows(exports, "accounts"), "account_id", "owner_rep_id")
    team = _state_on(_rows(exports, "reps"), "rep_id", "team_id")
    prescribed = prescribed_types()
    touches = defaultdict(set)  # (month, account) -> activity types
    for a in {r["activity_id"]: r for r in _rows(exports, "activities")}.values():
        if a["account_id"]:
            touches[a["occurred_at"][:7], a["account_id"]].add(a["activity_type"])
    orders = {r["order_id"]: r for r in _rows(exports, "orders")}  # the latest row of each order
    bought = {(o["order_date"][:7], o["account_id"]) for o in orders.values() if o["status"] == "completed"}
    months = sorted({m for m, _ in stage})
    expected = defaultdict(lambda: [0] * len(COUNTS))
    for previous, month in zip(months, months[1:]):
        last_day = (date.fromisoformat(month + "-01") - timedelta(days=1)).isoformat()
        for (m, account), was in stage.items():
            if m != previous:
                continue
            rep = owner(account, last_day)
            types = prescribed[was]
            treated = bool(touches[month, account]) if types is None else bool(touches[month, account] & types)
            ordered = (month, account) in bought
            back = was == "inactive" and stage[month, account] not in ("inactive", "prospect")
            cell = expected[month, rep and team(rep, last_day), was]
            for i, hit in enumerate(
                (True, treated, treated and ordered, not treated and ordered, treated and back, not treated and back)
            ):
                cell[i] += hit
    return expected


def test_every_cell_matches_the_csvs(demo_run, warehouse):
    expected = treatment_by_hand(demo_run.exports, warehouse["stage"])
    mart = warehouse["mart"]
    got = {}
    for row in mart.itertuples():
        counts = [0 if pd.isna(getattr(row, c)) else int(getattr(row, c)) for c in COUNTS]
        if counts[0]:
            got[row.month.isoformat()[:7], row.team_id, row.lifecycle_stage] = counts
    assert len(expected) >= 30 and got == dict(expected)
    # the cells the spec singles out are exercised: treated and untreated buyers, both reactivations
    totals = [sum(c[i] for c in expected.values()) for i in range(len(COUNTS))]
    assert all(totals[1:4]) and totals[4] > 0


def test_zero_fill_and_null_rules(warehouse):
    mart = warehouse["mart"]
    months = mart.month.nunique()
    assert len(mart.dropna(subset=["team_id"])) == months * len(warehouse["teams"]) * 6
    assert (mart.untreated_customers == mart.customers - mart.treated_customers).all()
    other = mart[mart.lifecycle_stage != "inactive"]
    assert other.reactivated_treated.isna().all() and other.reactivated_untreated.isna().all()
    assert mart[mart.customers == 0].treatment_rate.isna().all()
    first_month = min(m for m, _ in warehouse["stage"])
    assert mart.month.min().isoformat()[:7] > first_month  # from the second month of data


def test_the_demo_playbook_pays_off_modestly(warehouse):
    mart = warehouse["mart"]
    treated, untreated = mart.treated_customers.sum(), mart.untreated_customers.sum()
    lift = mart.ordered_treated.sum() / treated - mart.ordered_untreated.sum() / untreated
    assert 0.0 < lift < 0.4, lift
    vip = mart[mart.lifecycle_stage == "vip"]
    assert 0 < vip.untreated_customers.sum() < vip.customers.sum()  # some VIPs go unvisited
    stages = Counter(mart[mart.treated_customers > 0].lifecycle_stage)
    assert len(stages) == 6, stages  # every stage gets its prescribed touches somewhere


# ---------------------------------------------------------------- a hand fixture, end to end

FEB = date(2025, 2, 1)


def _write_fixture(raw: Path) -> None:
    """Teams T1 (rep R1) and T2 (rep R2). Stages at the end of January 2025, by the lifecycle rules:
    A1 and A2 inactive (last order in June 2024, over 180 days before), A3 VIP (the only big spender),
    A4 and A5 prospects (no order). February: A1 gets a call (prescribed for inactive) and orders,
    so it ends February active: its stage changes during the month, it counts as inactive, treated,
    ordered and reactivated. A2 gets only an e-mail (not prescribed for inactive), and an activity
    without an account names nobody: untreated. A3 gets a meeting and orders: VIP treated, ordered.
    A4 gets a visit (not prescribed for prospects): untreated. A5 belongs to R1 until January 31 and
    to R2 from February 1: it counts for R1's team T1 (the owner as January ended), treated by a call.
    The activity of March 31 sets as_of_date."""
    write_raw_batch(raw, "teams", [{"team_id": "T1", "team_name": "North"}, {"team_id": "T2", "team_name": "South"}])
    write_raw_batch(
        raw,
        "reps",
        [
            {"rep_id": r, "rep_name": r, "team_id": t, "hire_date": "2020-01-01", "status": "active"}
            for r, t in (("R1", "T1"), ("R2", "T2"))
        ],
    )
    accounts = [
        ("A1", "R1", "2024-01-01"),
        ("A2", "R1", "2024-01-01"),
        ("A3", "R2", "2024-01-01"),
        ("A4", "R2", "2024-01-01"),
        ("A5", "R1", "2024-01-01"),
        ("A5", "R2", "2025-02-01"),
    ]
    write_raw_batch(
        raw,
        "accounts",
        [
            {
                "account_id": a,
                "account_name": a,
                "owner_rep_id": r,
                "valid_from": v,
                "created_at": "2024-01-01 00:00:00",
            }
            for a, r, v in accounts
        ],
    )
    orders = [
        ("O1", "A1", "2024-06-10", "10.00"),
        ("O2", "A2", "2024-06-12", "10.00"),
        ("O3", "A3", "2024-12-01", "1000.00"),
        ("O4", "A3", "2025-01-05", "1000.00"),
        ("O5", "A1", "2025-02-20", "10.00"),
        ("O6", "A3", "2025-02-10", "1000.00"),
    ]
    write_raw_batch(
        raw,
        "orders",
        [{"order_id": o, "account_id": a, "order_date": d, "status": "completed"} for o, a, d, _ in orders],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": o, "line_number": 1, "product_id": "P1", "quantity": 1, "unit_price": p}
            for o, _, _, p in orders
        ],
    )
    activities = [
        ("E1", "R1", "A1", "call", "2025-02-05 10:00:00"),
        ("E2", "R1", "A2", "email", "2025-02-06 10:00:00"),
        ("E3", "R1", None, "call", "2025-02-07 10:00:00"),
        ("E4", "R2", "A3", "meeting", "2025-02-09 10:00:00"),
        ("E5", "R2", "A4", "visit", "2025-02-11 10:00:00"),
        ("E6", "R2", "A5", "call", "2025-02-12 10:00:00"),
        ("E7", "R1", None, "email", "2025-03-31 10:00:00"),
    ]
    write_raw_batch(
        raw,
        "activities",
        [
            {
                "activity_id": i,
                "rep_id": r,
                "account_id": a,
                "activity_type": t,
                "direction": "outbound",
                "occurred_at": at,
            }
            for i, r, a, t, at in activities
        ],
    )


@pytest.fixture(scope="module")
def fixture_warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("treatment")
    _write_fixture(data_dir / "raw")
    settings = get_settings(data_dir)
    settings.ensure_dirs()
    expose_file(settings.build_warehouse, settings.raw_dir, settings.quality_dir)
    dbt(
        data_dir,
        "build",
        "--select",
        "+mart_customer_treatment_monthly",
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
    )
    return settings.build_warehouse


def test_hand_fixture_cells(fixture_warehouse):
    stages = {
        (a, m): s
        for m, a, s in query(
            fixture_warehouse,
            """select month, account_id, lifecycle_stage
        from marts.fct_customer_lifecycle_monthly where month in ('2025-01-01', '2025-02-01')""",
        )
    }
    # the premises, by the lifecycle rules (marts.md "Lifecycle stage")
    assert [stages[a, date(2025, 1, 1)] for a in ("A1", "A2", "A3", "A4", "A5")] == [
        "inactive",
        "inactive",
        "vip",
        "prospect",
        "prospect",
    ]
    assert (stages["A1", FEB], stages["A2", FEB]) == ("active", "inactive")
    rows = query(
        fixture_warehouse,
        f"""select team_id, lifecycle_stage, {", ".join(COUNTS)}
        from marts.mart_customer_treatment_monthly where month = '2025-02-01' and customers > 0""",
    )
    assert {(t, s): list(c) for t, s, *c in rows} == {
        ("T1", "inactive"): [2, 1, 1, 0, 1, 0],  # A1 treated, ordered, reactivated; A2 neither
        ("T1", "prospect"): [1, 1, 0, 0, None, None],  # A5: R1's as January ended
        ("T2", "vip"): [1, 1, 1, 0, None, None],  # A3
        ("T2", "prospect"): [1, 0, 0, 0, None, None],  # A4: a visit is not prescribed for prospects
    }
    # zero-filled: both teams x six stages in every month after the first (June 2024 .. March 2025)
    ((n_rows, n_months),) = query(
        fixture_warehouse, "select count(*), count(distinct month) from marts.mart_customer_treatment_monthly"
    )
    assert (n_rows, n_months) == (9 * 2 * 6, 9)
