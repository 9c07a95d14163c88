"""int_order_lines is incremental: a second run after new raw batches rebuilds exactly the orders
those batches touch (new lines, a cancelled order, a new accounts snapshot re-attributing orders
without rep_id) and leaves the other orders' rows alone, as in the pipeline's month refresh
(which writes control.rebuild_months first). A dbt build run by hand, without that table, rebuilds
every order.
"""

from decimal import Decimal

import duckdb
import pytest

from tests.support import build_warehouse, query, write_raw_batch

LINES = """select order_id, line_number, rep_id, net_amount from intermediate.int_order_lines
           order by order_id, line_number"""


def test_second_run_rebuilds_only_the_touched_orders(tmp_path):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw,
        "accounts",
        [
            {"account_id": "A1", "account_name": "a1", "owner_rep_id": "R1", "created_at": "2024-01-01 00:00:00"},
            {"account_id": "A2", "account_name": "a2", "owner_rep_id": "R2", "created_at": "2024-01-01 00:00:00"},
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},  # via A1's owner
            {"order_id": "O2", "account_id": "A2", "rep_id": "R2", "order_date": "2025-01-06", "status": "completed"},
            {"order_id": "O3", "account_id": "A1", "rep_id": "R1", "order_date": "2025-01-07", "status": "completed"},
            {"order_id": "O5", "account_id": "A2", "rep_id": "R5", "order_date": "2024-12-08", "status": "completed"},
        ],
    )
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": "O1", "line_number": 1, "product_id": "P", "quantity": "1", "unit_price": "100"},
            {"order_id": "O2", "line_number": 1, "product_id": "P", "quantity": "2", "unit_price": "20"},
            {"order_id": "O3", "line_number": 1, "product_id": "P", "quantity": "3", "unit_price": "30"},
            {"order_id": "O5", "line_number": 1, "product_id": "P", "quantity": "5", "unit_price": "50"},
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_INDIRECT_SELECTION", "cautious")
        warehouse = build_warehouse(tmp_path, select="+int_order_lines", command="run")
        assert query(warehouse, LINES) == [
            ("O1", 1, "R1", Decimal("100.00")),
            ("O2", 1, "R2", Decimal("40.00")),
            ("O3", 1, "R1", Decimal("90.00")),
            ("O5", 1, "R5", Decimal("250.00")),
        ]

        # Mark O5's row: nothing in the next batches touches O5, so an incremental run keeps it.
        # The month refresh's control table, as the pipeline writes it: the month the new batches
        # touch (January; O5 is December's).
        with duckdb.connect(str(warehouse)) as con:
            con.execute("update intermediate.int_order_lines set net_amount = 1 where order_id = 'O5'")
            con.execute("create schema control")
            con.execute("create table control.rebuild_months as select date '2025-01-01' as month")

        write_raw_batch(
            raw,
            "order_lines",
            [
                {"order_id": "O2", "line_number": 2, "product_id": "P", "quantity": "2", "unit_price": "5"},
                {
                    "order_id": "O4",
                    "line_number": 1,
                    "product_id": "P",
                    "quantity": "4",
                    "unit_price": "10",
                    "discount_amount": "4",
                },
            ],
        )
        write_raw_batch(
            raw,
            "orders",
            [
                {
                    "order_id": "O3",
                    "account_id": "A1",
                    "rep_id": "R1",
                    "order_date": "2025-01-07",
                    "status": "cancelled",
                },
                {"order_id": "O4", "account_id": "A2", "order_date": "2025-01-09", "status": "completed"},
            ],
        )
        # a new accounts snapshot: A1 changed owner
        write_raw_batch(
            raw,
            "accounts",
            [
                {"account_id": "A1", "account_name": "a1", "owner_rep_id": "R9", "created_at": "2024-01-01 00:00:00"},
                {"account_id": "A2", "account_name": "a2", "owner_rep_id": "R2", "created_at": "2024-01-01 00:00:00"},
            ],
        )
        build_warehouse(tmp_path, select="+int_order_lines")

    assert query(warehouse, LINES) == [
        ("O1", 1, "R9", Decimal("100.00")),  # re-attributed to A1's new owner
        ("O2", 1, "R2", Decimal("40.00")),
        ("O2", 2, "R2", Decimal("10.00")),  # new line: 2 x 5
        # O3 was cancelled: its line is gone
        ("O4", 1, "R2", Decimal("36.00")),  # new order via A2's owner: 4 x 10 - 4
        ("O5", 1, "R5", Decimal("1.00")),  # untouched: not rebuilt (still the marked value)
    ]

    # by hand, outside the pipeline (no control table): every order is rebuilt, O5 included
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table control.rebuild_months")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_INDIRECT_SELECTION", "cautious")
        build_warehouse(tmp_path, select="+int_order_lines")
    assert query(warehouse, LINES)[-1] == ("O5", 1, "R5", Decimal("250.00"))
