"""The shared fixture helpers write what they claim (the mart tests lean on them)."""

from datetime import date
from decimal import Decimal

from tests.support import build_warehouse, query, write_raw_batch


def test_newer_event_version_wins_and_snapshot_replaces(tmp_path):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "pending"},
            {"order_id": "O2", "account_id": "A1", "order_date": "2025-01-06", "status": "completed"},
        ],
    )
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},
        ],
    )
    write_raw_batch(raw, "teams", [{"team_id": "T1"}, {"team_id": "T2"}])
    write_raw_batch(raw, "teams", [{"team_id": "T3"}])
    write_raw_batch(
        raw,
        "order_lines",
        [
            {"order_id": "O1", "line_number": 1, "product_id": "P", "quantity": "2", "unit_price": "10.50"},
        ],
    )
    wh = build_warehouse(tmp_path, select="stg_orders stg_teams stg_order_lines")
    assert query(wh, "select order_id, status from staging.stg_orders order by 1") == [
        ("O1", "completed"),
        ("O2", "completed"),
    ]
    assert query(wh, "select team_id from staging.stg_teams") == [("T3",)]
    assert query(wh, "select quantity * unit_price, order_id from staging.stg_order_lines") == [
        (Decimal("21.00000000"), "O1")
    ]
    assert query(wh, "select order_date from staging.stg_orders where order_id = 'O2'") == [(date(2025, 1, 6),)]
