"""The multi-currency twin of a generated company (`salesdw generate --currencies CNY,USD,EUR`).

Orders are spread over the currencies (by a hash of the order id), their lines and returns are
restated in the order's currency at the month's rate, and fx_rates/fx_rates.csv gives the rates,
so staging converts every amount back (ingestion/fx.py says what ingestion checks of a code).
The twin's marts equal the single-currency company's within ROUNDING_BOUND, stated below.
"""

from __future__ import annotations

from demo.exports import read_manifest, write_manifest

# What the conversion implies (ROUNDING_BOUND): a foreign
# unit price is written to 4 decimals and a discount or refund to 2, each converted back and
# rounded again to the same decimals in staging, so per order line
#     |net amount - the single-currency twin's| <= quantity * (0.00005 * rate + 0.00005) + 0.005 * rate + 0.005
# and per return |refund - twin| <= 0.005 * rate + 0.005; a mart total differs from the twin's by
# at most the sum of these bounds over the rows it adds up.

BASE_RATES = {"USD": 7.1, "EUR": 7.8, "GBP": 9.1, "JPY": 0.048, "HKD": 0.91, "SGD": 5.3}  # CNY per unit
FX_FILE = "fx_rates/fx_rates.csv"


def reporting_rates(first_day, last_day, reporting: str) -> dict:
    """The generator's fx_rates of a single-currency company: the reporting currency at 1 for
    every month (`--currencies` replaces them with the other currencies' rates)."""
    import numpy as np
    import pyarrow as pa

    first, last = (np.datetime64(np.datetime64(d, "D"), "M") for d in (first_day, last_day))  # day numbers or dates
    months = np.arange(first, last + 1)
    return {
        "month": pa.array([str(m) for m in months], pa.string()),
        "currency": pa.array([reporting] * len(months), pa.string()),
        "rate_to_reporting": pa.array(["1"] * len(months), pa.string()),
    }


def line_bound(quantity: float, rate: float) -> float:
    """ROUNDING_BOUND of one order line's net amount (see above)."""
    return quantity * (0.00005 * rate + 0.00005) + 0.005 * rate + 0.005


def monthly_rates(currencies: list[str], months: list[str], seed: int, reporting: str = "CNY") -> dict:
    """{(currency, 'YYYY-MM'): rate}: each foreign currency drifts up to 2% a month from its base."""
    import numpy as np

    rng = np.random.default_rng(seed + 4217)
    rates = {}
    for currency in currencies:
        if currency == reporting:
            continue
        rate = BASE_RATES.get(currency, 1.0 + rng.random())
        for month in months:
            rate *= 1 + rng.uniform(-0.02, 0.02)
            rates[(currency, month)] = round(rate, 6)
    return rates


def check_currencies(currencies: list[str], reporting: str) -> None:
    """ISO 4217 codes, the reporting currency among them; ValueError naming what is wrong."""
    bad = [c for c in currencies if len(c) != 3 or not c.isalpha() or not c.isupper()]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an ISO 4217 code (three capital letters)")
    if reporting not in currencies:
        raise ValueError(f"the reporting currency {reporting} must be one of them (got {', '.join(currencies)})")


def write_currency_twin(out_dir, currencies: list[str], seed: int, reporting: str = "CNY") -> int:
    """Restate a generated canonical company's orders in `currencies`; returns the fx_rates rows."""
    import duckdb

    check_currencies(currencies, reporting)
    manifest = read_manifest(out_dir)
    if manifest["parameters"].get("dirty"):
        raise ValueError("--currencies cannot be combined with --dirty")
    first, last = manifest["period"]["first_date"][:7], manifest["period"]["last_date"][:7]
    with duckdb.connect() as con:
        months = [
            m
            for (m,) in con.execute(
                "select strftime(range, '%Y-%m') from range(cast(? as date), cast(? as date) + interval 1 month, "
                "interval 1 month)",
                [f"{first}-01", f"{last}-01"],
            ).fetchall()
        ]
        rates = monthly_rates(currencies, months, seed, reporting)
        con.execute("create table rates (currency varchar, month varchar, rate decimal(18,8))")
        con.executemany("insert into rates values (?, ?, ?)", [(c, m, r) for (c, m), r in rates.items()])
        _restate(con, out_dir, manifest, currencies, seed)
        fx = out_dir / FX_FILE
        fx.parent.mkdir(exist_ok=True)
        con.execute(
            f"copy (select month, currency, rate as rate_to_reporting from rates order by currency, month) "
            f"to '{fx}' (header, delimiter ',')"
        )
    manifest["files"] = [r for r in manifest["files"] if r["file"] != FX_FILE]
    manifest["files"].append(
        {
            "entity": "fx_rates",
            "file": FX_FILE,
            "format": "csv",
            "rows": len(rates),
            "expected": {"status": "loaded", "rows_read": len(rates), "rows_loaded": len(rates), "rows_quarantined": 0},
        }
    )
    manifest["row_counts"]["fx_rates"] = len(rates)
    manifest["parameters"]["currencies"] = currencies
    write_manifest(out_dir, manifest)
    return len(rates)


def _restate(con, out_dir, manifest: dict, currencies: list[str], seed: int) -> None:
    """Orders get a currency; their lines' prices and discounts and their returns' refunds are
    divided by the month's rate (rounded as the bound above says)."""
    files = {
        e: [out_dir / r["file"] for r in manifest["files"] if r["entity"] == e]
        for e in ("orders", "order_lines", "returns")
    }
    if any(not str(p).endswith(".csv") for ps in files.values() for p in ps):
        raise ValueError("--currencies needs CSV order exports")
    listed = ", ".join(f"'{c}'" for c in currencies)
    read = lambda ps: "read_csv([{}], all_varchar = true, header = true)".format(", ".join(f"'{p}'" for p in ps))  # noqa: E731
    con.execute(f"""create table order_fx as
        select order_id, list_value({listed})[1 + (hash_md5 % {len(currencies)})] as currency,
               strftime(cast(order_date as date), '%Y-%m') as month
        from (select order_id, order_date,
                     cast(('0x' || left(md5(order_id || '{seed}'), 8)) as bigint) as hash_md5
              from {read(files["orders"])})""")
    con.execute(
        "create table order_rate as select o.order_id, o.currency, r.rate from order_fx as o "
        "left join rates as r using (currency, month)"
    )
    for path in files["orders"]:
        _rewrite(
            con,
            path,
            "select s.* replace (o.currency as currency) from src as s left join order_fx as o using (order_id)",
        )
    for path in files["order_lines"]:
        _rewrite(
            con,
            path,
            """select s.* replace (
                case when r.rate is null then s.unit_price
                     else cast(cast(round(cast(s.unit_price as decimal(18,4)) / r.rate, 4) as decimal(18,4))
                               as varchar) end as unit_price,
                case when r.rate is null or s.discount_amount is null then s.discount_amount
                     else cast(cast(least(round(cast(s.discount_amount as decimal(18,2)) / r.rate, 2),
                                     cast(s.quantity as decimal(18,4))
                                     * round(cast(s.unit_price as decimal(18,4)) / r.rate, 4))
                               as decimal(18,2)) as varchar) end as discount_amount)
            from src as s left join order_rate as r using (order_id)""",
        )
    for path in files["returns"]:
        _rewrite(
            con,
            path,
            """select s.* replace (
                case when r.rate is null then s.refund_amount
                     else cast(cast(round(cast(s.refund_amount as decimal(18,2)) / r.rate, 2) as decimal(18,2))
                               as varchar) end as refund_amount)
            from src as s left join order_rate as r using (order_id)""",
        )


def _rewrite(con, path, select_sql: str) -> None:
    con.execute(
        f"create or replace temp view src as select *, row_number() over () as __n "
        f"from read_csv('{path}', all_varchar = true, header = true)"
    )
    tmp = path.with_name(path.name + ".tmp")
    con.execute(f"copy (select * exclude (__n) from ({select_sql}) order by __n) to '{tmp}' (header, delimiter ',')")
    tmp.replace(path)
