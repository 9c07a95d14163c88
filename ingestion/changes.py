"""Which months the raw batches new since the last build can change (issue 23, "Know what changed").

The past does not move (architecture.md): a month changes only when facts dated in it arrive, or a
snapshot version effective in it arrives. So the months a run must rebuild follow from the new
batches alone (the live batches the last successful build did not read), entity by entity:

- dated events (orders, returns, expenses, survey responses): the months of the new rows' business
  dates and of the earlier versions of the same keys (a re-dated order leaves its old month);
  order lines take their order's months; a changed order also touches the months of its returns
  and survey responses (their product and rep come from the order);
- events that open a state over time (leads, opportunities, their stage history, activities,
  cases): every month from the earliest date of the new rows and their earlier versions on;
- effective-dated snapshots (reps, teams): every month from the version's effective date on
  (valid_from, else the file's snapshot date); a key without an earlier version, or a version
  effective on or before the key's earliest, restates the time before it (exports.md: the
  earliest version stands for the time before it): every month;
- monthly snapshots (fx rates, budgets, targets): the months whose current rows differ; a changed
  rate also touches what is converted at it but counted in another month (returns, deals);
- accounts, contacts, products: every month (marts read their current attributes for every month).

Every month from the previous build's last month on is touched too whenever anything is new: the
as_of date (the latest business date) moves with the data. The result is `Changes`: the months,
or every month; the dbt step writes them to `control.rebuild_months` (orchestration/refresh.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from ingestion.canonical import ENTITIES
from ingestion.raw_zone import raw_select

# business dates that place a row in its month(s)
DATED_EVENTS: dict[str, tuple[str, ...]] = {
    "orders": ("order_date",),
    "returns": ("return_date",),
    "expenses": ("expense_date",),
    "survey_responses": ("submitted_at",),
}
OPEN_EVENTS: dict[str, tuple[str, ...]] = {
    "leads": ("created_at", "qualified_at", "converted_at"),
    "opportunities": ("created_at", "close_date", "updated_at"),
    "opportunity_stage_history": ("entered_at", "close_date"),
    "activities": ("occurred_at", "responded_at"),
    "cases": ("opened_at", "first_response_at", "resolved_at"),
}
ORDER_LINKED: dict[str, str] = {"returns": "return_date", "survey_responses": "submitted_at"}
EFFECTIVE_SNAPSHOTS = ("reps", "teams")
MONTHLY_SNAPSHOTS = ("fx_rates", "budgets", "targets")
WHOLE_HISTORY = ("accounts", "contacts", "products")


@dataclass
class Changes:
    """What the new batches touch: `months` (first days), or every month when `every_month`."""

    new_batches: dict[str, list[str]] = field(default_factory=dict)  # entity -> batch ids
    months: set[date] = field(default_factory=set)
    open_from: date | None = None  # and every month from this one on (expanded by _touch_through_latest)
    every_month: bool = False
    latest_month: date | None = None  # the latest month of any business date in the raw zone
    reasons: list[str] = field(default_factory=list)  # why every month, when it is

    def touch_all(self, reason: str) -> None:
        self.every_month = True
        self.reasons.append(reason)

    def month_labels(self) -> list[str]:
        return sorted(m.strftime("%Y-%m") for m in self.months)


def live_batches(raw_dir: Path, quality_dir: Path, config: Mapping | None = None) -> dict[str, list[str]]:
    """The live (loaded, unretired) batch ids of every entity in the raw zone (config: DuckDB's
    limits, Settings.duckdb_limits: these queries scan whole raw entities)."""
    with duckdb.connect(config=dict(config or {})) as con:
        return {
            name: sorted(
                r[0]
                for r in con.execute(
                    f"select distinct _batch_id from ({raw_select(raw_dir, quality_dir, name)})"
                ).fetchall()
            )
            for name in ENTITIES
        }


def changes_since(
    raw_dir: Path, quality_dir: Path, known: set[str], last_month: date | None, config: Mapping | None = None
) -> Changes:
    """The months the live batches not in `known` touch (known: the batches the last build read;
    last_month: the latest month of data then; config: DuckDB's limits)."""
    changes = Changes()
    with duckdb.connect(config=dict(config or {})) as con:
        for name in ENTITIES:
            con.execute(f"create view {name} as {raw_select(raw_dir, quality_dir, name)}")
        con.execute("create table known(batch_id varchar)")
        if known:
            con.executemany("insert into known values (?)", [[b] for b in sorted(known)])
        for name in ENTITIES:
            new = [
                r[0]
                for r in con.execute(
                    f"select distinct _batch_id from {name}"
                    " where _batch_id not in (select batch_id from known) order by 1"
                ).fetchall()
            ]
            if new:
                changes.new_batches[name] = new
                _touch(con, name, changes)
        if changes.new_batches:
            _touch_through_latest(con, changes, last_month)
    return changes


def _touch(con: duckdb.DuckDBPyConnection, name: str, changes: Changes) -> None:
    """Add to `changes` what the new batches of entity `name` touch."""
    if name in WHOLE_HISTORY:
        changes.touch_all(f"new {name} snapshot: marts read its current attributes in every month")
    elif name in DATED_EVENTS:
        changes.months |= _months(con, _versions_sql(name), DATED_EVENTS[name])
        if name == "orders":
            _touch_order_linked(con, _versions_sql(name), changes)
    elif name == "order_lines":
        # an earlier version of a line has the same order_id: the new rows name every order touched
        orders = f"select * from orders where order_id in (select order_id from ({_new(name)}))"
        changes.months |= _months(con, orders, DATED_EVENTS["orders"])
        _touch_order_linked(con, orders, changes)
    elif name in OPEN_EVENTS:
        _touch_from(changes, _months(con, _versions_sql(name), OPEN_EVENTS[name]))
    elif name in EFFECTIVE_SNAPSHOTS:
        _touch_effective(con, name, changes)
    elif name in MONTHLY_SNAPSHOTS:
        changes.months |= _months(con, _snapshot_difference_sql(name), ("month",))
        if name == "fx_rates":
            _touch_converted(con, changes)
    else:  # an entity this module does not know yet: the safe answer
        changes.touch_all(f"new {name} batch: no rule for which months it touches")


def _new(name: str) -> str:
    return f"select * from {name} where _batch_id not in (select batch_id from known)"


def _versions_sql(name: str) -> str:
    """The new rows of an event entity and every version of the same keys."""
    keys = ", ".join(ENTITIES[name].key)
    return f"select * from {name} where ({keys}) in (select ({keys}) from ({_new(name)}))"


def _months(con: duckdb.DuckDBPyConnection, rows_sql: str, columns: tuple[str, ...]) -> set[date]:
    dates = " union all ".join(f"select cast({c} as date) as d from ({rows_sql})" for c in columns)
    sql = f"select distinct cast(date_trunc('month', d) as date) from ({dates}) where d is not null"
    return {r[0] for r in con.execute(sql).fetchall()}


def _touch_order_linked(con: duckdb.DuckDBPyConnection, orders_sql: str, changes: Changes) -> None:
    for linked, date_column in ORDER_LINKED.items():
        rows = f"select * from {linked} where order_id in (select order_id from ({orders_sql}))"
        changes.months |= _months(con, rows, (date_column,))


def _touch_converted(con: duckdb.DuckDBPyConnection, changes: Changes) -> None:
    """A changed rate of month m also changes what is converted at it and counted elsewhere: the
    returns and survey responses of orders dated in m (a return is converted at its order's date),
    and deals converted at m (close date, else creation), which count from their creation on."""
    changed = (
        "select distinct cast(date_trunc('month', month) as date) as m, currency"
        f" from ({_snapshot_difference_sql('fx_rates')})"
    )
    orders = f"""select * from orders where (cast(date_trunc('month', order_date) as date), coalesce(currency, ''))
                 in (select (m, currency) from ({changed}))"""
    _touch_order_linked(con, orders, changes)
    deals = f"""select * from opportunities where
        (cast(date_trunc('month', coalesce(close_date, cast(created_at as date))) as date), coalesce(currency, ''))
        in (select (m, currency) from ({changed}))"""
    _touch_from(changes, _months(con, deals, OPEN_EVENTS["opportunities"]))


def _touch_from(changes: Changes, months: set[date]) -> None:
    """Every month from the earliest of `months` on (expanded by _touch_through_latest)."""
    if months:
        changes.open_from = min(months | ({changes.open_from} if changes.open_from else set()))


def _touch_effective(con: duckdb.DuckDBPyConnection, name: str, changes: Changes) -> None:
    """New versions of reps/teams: from each key's new effective date on; every month when a key
    is new or its earliest version is restated."""
    key = ENTITIES[name].key[0]
    effective = "coalesce(valid_from, _snapshot_date, cast(_loaded_at as date))"
    rows = con.execute(f"""
        select new.{key}, new.effective_from, earlier.earliest
        from (select {key}, min({effective}) as effective_from from ({_new(name)}) group by {key}) as new
        left join (select {key}, min({effective}) as earliest from {name}
                   where _batch_id in (select batch_id from known) group by {key}) as earlier
            on new.{key} = earlier.{key}
        order by 1""").fetchall()
    restating = [k for k, effective_from, earliest in rows if earliest is None or effective_from <= earliest]
    if restating:
        changes.touch_all(f"new {name} version restates the earliest state of {', '.join(restating[:5])}")
    else:
        _touch_from(changes, {e.replace(day=1) for _, e, _ in rows})


def _snapshot_difference_sql(name: str) -> str:
    """The keys whose current state differs before and after the new batches, as rows with a
    `month`. The current state is resolved as staging resolves it (macros/latest_version.sql: the
    newest batch of each profile, then per key the latest loaded row), so a row that only changes
    which profile's value wins is a difference too."""
    columns = ", ".join(c.name for c in ENTITIES[name].columns)
    keys = ", ".join(ENTITIES[name].key)
    newest = """select * from {src} where _batch_id in (
        select _batch_id from (select _profile, _batch_id, row_number() over (partition by _profile
            order by coalesce(_snapshot_date, cast(_loaded_at as date)) desc, _loaded_at desc, _batch_id desc) as r
            from (select distinct _profile, _batch_id, _snapshot_date, _loaded_at from {src})) where r = 1)"""
    resolved = f"""select {columns} from (select *, row_number() over (partition by {keys}
        order by _loaded_at desc, _batch_id desc, _row_number desc) as _rank from ({newest})) where _rank = 1"""
    before = resolved.format(src=f"(select * from {name} where _batch_id in (select batch_id from known))")
    after = resolved.format(src=name)
    return (
        f"(select {columns} from ({before}) except select {columns} from ({after})) union all "
        f"(select {columns} from ({after}) except select {columns} from ({before}))"
    )


# the business dates the as_of date is the latest of (int_calendar.sql: keep the two in step)
AS_OF_DATES = """
    select order_date as d from orders
    union all select cast(created_at as date) from opportunities
    union all select cast(updated_at as date) from opportunities
    union all select close_date from opportunities where stage in ('closed_won', 'closed_lost')
    union all select cast(entered_at as date) from opportunity_stage_history
    union all select cast(occurred_at as date) from activities
    union all select cast(submitted_at as date) from survey_responses"""


def _latest_month(con: duckdb.DuckDBPyConnection) -> date | None:
    """The as_of month as derived from the data (int_calendar)."""
    return con.execute(f"select cast(date_trunc('month', max(d)) as date) from ({AS_OF_DATES})").fetchone()[0]


def _horizon(con: duckdb.DuckDBPyConnection) -> date | None:
    """The latest month of any business date (a deal's expected close date may lie ahead)."""
    dated = {**DATED_EVENTS, **OPEN_EVENTS}
    return max(
        (m for name, columns in dated.items() for m in _months(con, f"select * from {name}", columns)), default=None
    )


def latest_month(raw_dir: Path, quality_dir: Path, config: Mapping | None = None) -> date | None:
    """The as_of month as derived from the live raw zone (config: DuckDB's limits)."""
    with duckdb.connect(config=dict(config or {})) as con:
        for name in {**DATED_EVENTS, **OPEN_EVENTS}:
            con.execute(f"create view {name} as {raw_select(raw_dir, quality_dir, name)}")
        return _latest_month(con)


def _touch_through_latest(con: duckdb.DuckDBPyConnection, changes: Changes, last_month: date | None) -> None:
    """Expand "every month from m on" up to the latest month of any date, and touch every month
    from the previous build's as_of month to this one's (the as_of date moves with the data)."""
    changes.latest_month = _latest_month(con)
    for start, end in ((changes.open_from, _horizon(con)), (last_month, changes.latest_month)):
        month = start
        while month is not None and end is not None and month <= end:
            changes.months.add(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
