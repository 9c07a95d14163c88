"""History, end to end (issue 18's "done when"): the demo is built, a reps snapshot that moves one
rep and an accounts export that hands one customer to another rep land, and the pipeline runs again.

marts.md "Point in time": a rep's team in month m is the rep's state on m's last day, an order
without a rep belongs to its account's owner on the order date, and last year's team figures do not
change when the organisation does. The expected changes are computed here from the exports (plain
csv), the figures before the change from the first build.
"""

import csv
import shutil
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.conftest import salesdw


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write(path: Path, header: list[str], records: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(records)


def marts(warehouse: Path) -> dict[str, dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        reps = con.sql("select month, rep_id, team_id, gross_revenue from marts.mart_rep_kpi_monthly").fetchall()
        teams = con.sql("select * from marts.mart_team_kpi_monthly").fetchall()
        team_columns = [c[0] for c in con.sql("select * from marts.mart_team_kpi_monthly limit 0").description]
    return {
        "reps": {(m, r): (t, g) for m, r, t, g in reps},
        "teams": {(row[team_columns.index("month")], row[team_columns.index("team_id")]): row for row in teams},
        "team_gross": team_columns.index("gross_revenue"),
    }


def no_rep_sales_by_month(exports: Path, account_id: str) -> dict[date, Decimal]:
    """Line net amounts of the account's completed orders that carry no rep, by order month."""
    months = {
        o["order_id"]: date.fromisoformat(o["order_date"][:10]).replace(day=1)
        for o in rows(exports / "orders" / "orders.csv")
        if o["account_id"] == account_id and not o["rep_id"] and o["status"] == "completed"
    }
    sales = defaultdict(Decimal)
    for line in rows(exports / "order_lines" / "order_lines.csv"):
        if line["order_id"] in months:
            net = Decimal(line["quantity"]) * Decimal(line["unit_price"]) - Decimal(line["discount_amount"] or 0)
            sales[months[line["order_id"]]] += net
    return dict(sales)


def test_a_rep_move_and_an_owner_change_restate_no_earlier_month(demo_run, tmp_path):
    assert demo_run.exit_code == 0, demo_run.output
    data_dir = tmp_path / "data"
    shutil.copytree(demo_run.data_dir, data_dir, symlinks=True)
    exports = data_dir / "landing" / "canonical"
    before = marts(data_dir / "warehouse" / "sales.duckdb")
    as_of_month = max(m for m, _ in before["reps"])

    # the move: a rep selling in the as_of month, with no dated move of its own, joins another team
    # in a reps snapshot dated the first of that month
    reps = rows(exports / "reps" / "reps.csv")
    teams = sorted({r["team_id"] for r in reps})
    mover = next(r for r in reps if not r["valid_from"] and before["reps"].get((as_of_month, r["rep_id"]), (0, 0))[1])
    old_team = before["reps"][(as_of_month, mover["rep_id"])][0]
    new_team = next(t for t in teams if t != old_team)
    moved = [{**r, "team_id": new_team} if r is mover else r for r in reps]
    write(exports / "reps" / f"reps_{as_of_month.isoformat()}.csv", list(reps[0]), moved)

    # the owner change: a customer with completed orders without a rep goes to another rep from the
    # month of its latest such order; the export restates the accounts with one more dated row
    accounts = rows(exports / "accounts" / "accounts.csv")
    candidates = {a["account_id"] for a in accounts}
    account_id, sales = next((a, s) for a in sorted(candidates) if (s := no_rep_sales_by_month(exports, a)))
    change_month = max(sales)
    new_owner = next(
        r["rep_id"]
        for r in reps
        if r["rep_id"] != mover["rep_id"]
        and not r["end_date"]
        and all(r["rep_id"] != a["owner_rep_id"] for a in accounts if a["account_id"] == account_id)
    )
    template = [a for a in accounts if a["account_id"] == account_id][-1]
    handed_over = accounts + [{**template, "owner_rep_id": new_owner, "valid_from": change_month.isoformat()}]
    write(exports / "accounts" / "accounts_owner_change.csv", list(accounts[0]), handed_over)

    run = salesdw("run", data_dir=data_dir)
    assert run.returncode == 0, run.stdout + run.stderr
    after = marts(data_dir / "warehouse" / "sales.duckdb")

    first_change = min(change_month, as_of_month)
    # nothing before the first change moves, row for row
    for key, row in before["teams"].items():
        if key[0] < first_change:
            assert after["teams"][key] == row, key
    for key, row in before["reps"].items():
        if key[0] < first_change:
            assert after["reps"][key] == row, key

    # the mover counts for the new team from the move on, with the same sales
    assert after["reps"][(as_of_month, mover["rep_id"])] == (
        new_team,
        before["reps"][(as_of_month, mover["rep_id"])][1],
    )

    # the customer's orders without a rep go to the new owner from the change on, and to nobody else
    for month in {m for m, _ in before["reps"] if m >= change_month}:
        moved_sales = sales.get(month, Decimal(0))
        gained = (
            after["reps"].get((month, new_owner), (None, 0))[1] - before["reps"].get((month, new_owner), (None, 0))[1]
        )
        assert gained == moved_sales, month
        total_before = sum(g for (m, _), (_, g) in before["reps"].items() if m == month)
        total_after = sum(g for (m, _), (_, g) in after["reps"].items() if m == month)
        assert total_after == total_before, month

    # team figures are made from the rep rows of the month that carry the team
    gross = after["team_gross"]
    for (month, team), row in after["teams"].items():
        expected = sum(g for (m, _), (t, g) in after["reps"].items() if m == month and t == team)
        assert row[gross] == expected, (month, team)
