"""ingestion/changes.py: the months new raw batches touch, checked against months worked out by
hand from each fixture's own dates."""

from datetime import date

from ingestion.changes import changes_since, live_batches
from tests.support import write_raw_batch


def _known(tmp_path) -> set[str]:
    return {b for ids in live_batches(tmp_path / "raw", tmp_path / "quality").values() for b in ids}


def _changes(tmp_path, known, last_month=None):
    return changes_since(tmp_path / "raw", tmp_path / "quality", known, last_month)


def test_orders_touch_their_months_and_the_months_of_their_earlier_versions(tmp_path):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-01-05", "status": "completed"},
            {"order_id": "O9", "account_id": "A1", "order_date": "2025-05-05", "status": "completed"},
        ],
    )
    write_raw_batch(raw, "returns", [{"return_id": "R1", "order_id": "O1", "return_date": "2025-04-02"}])
    known = _known(tmp_path)
    assert _changes(tmp_path, known).months == set() and not _changes(tmp_path, known).new_batches
    # O1 re-dated from January to February, O2 new in March: O1's return (April) moves with it
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2025-02-10", "status": "completed"},
            {"order_id": "O2", "account_id": "A1", "order_date": "2025-03-02", "status": "completed"},
        ],
    )
    changes = _changes(tmp_path, known)
    assert list(changes.new_batches) == ["orders"]
    assert changes.month_labels() == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert not changes.every_month
    # the previous build ended in May: the as_of month moves, so May is rebuilt too
    assert _changes(tmp_path, known, date(2025, 5, 1)).month_labels() == [
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
        "2025-05",
    ]


def test_order_lines_touch_their_orders_months(tmp_path):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw,
        "orders",
        [
            {"order_id": "O1", "account_id": "A1", "order_date": "2024-11-30", "status": "completed"},
            {"order_id": "O2", "account_id": "A1", "order_date": "2025-01-02", "status": "completed"},
        ],
    )
    known = _known(tmp_path)
    write_raw_batch(
        raw,
        "order_lines",
        [{"order_id": "O1", "line_number": 1, "product_id": "P", "quantity": "1", "unit_price": "1"}],
    )
    assert _changes(tmp_path, known).month_labels() == ["2024-11"]


def test_a_rep_moved_from_a_past_date_touches_every_month_from_then_on(tmp_path):
    raw = tmp_path / "raw"
    write_raw_batch(
        raw, "orders", [{"order_id": "O1", "account_id": "A1", "order_date": "2025-03-15", "status": "completed"}]
    )
    write_raw_batch(raw, "reps", [{"rep_id": "R1", "rep_name": "r", "team_id": "T1", "valid_from": "2024-01-01"}])
    known = _known(tmp_path)
    write_raw_batch(raw, "reps", [{"rep_id": "R1", "rep_name": "r", "team_id": "T2", "valid_from": "2024-12-20"}])
    changes = _changes(tmp_path, known)
    assert changes.month_labels() == ["2024-12", "2025-01", "2025-02", "2025-03"]
    assert not changes.every_month
    # a rep never seen before: its first version stands for the time before it, in every month
    write_raw_batch(raw, "reps", [{"rep_id": "R2", "rep_name": "s", "team_id": "T2", "valid_from": "2025-03-01"}])
    changes = _changes(tmp_path, known)
    assert changes.every_month and "R2" in changes.reasons[0]


def test_a_new_fx_rate_for_an_old_month_touches_that_month(tmp_path):
    raw = tmp_path / "raw"
    rates = [
        {"month": "2025-01-01", "currency": "USD", "rate_to_reporting": "7.1"},
        {"month": "2025-02-01", "currency": "USD", "rate_to_reporting": "7.2"},
    ]
    write_raw_batch(raw, "fx_rates", rates)
    # a USD order of February returned in April (converted at February's rate, counted in April),
    # a CNY one of February returned in May (not converted: untouched)
    write_raw_batch(
        raw,
        "orders",
        [
            {
                "order_id": "O1",
                "account_id": "A1",
                "order_date": "2025-02-03",
                "status": "completed",
                "currency": "USD",
            },
            {
                "order_id": "O2",
                "account_id": "A1",
                "order_date": "2025-02-04",
                "status": "completed",
                "currency": "CNY",
            },
        ],
    )
    write_raw_batch(
        raw,
        "returns",
        [
            {"return_id": "R1", "order_id": "O1", "return_date": "2025-04-02"},
            {"return_id": "R2", "order_id": "O2", "return_date": "2025-05-02"},
        ],
    )
    known = _known(tmp_path)
    write_raw_batch(
        raw,
        "fx_rates",
        [
            rates[0],
            {**rates[1], "rate_to_reporting": "7.25"},
            {"month": "2024-06-01", "currency": "EUR", "rate_to_reporting": "7.9"},
        ],
    )
    assert _changes(tmp_path, known).month_labels() == ["2024-06", "2025-02", "2025-04"]


def test_a_new_products_snapshot_touches_every_month(tmp_path):
    write_raw_batch(tmp_path / "raw", "products", [{"product_id": "P1", "product_name": "p"}])
    changes = _changes(tmp_path, set())
    assert changes.every_month and changes.new_batches == {"products": sorted(_known(tmp_path))}


def test_a_rate_that_only_changes_which_profile_wins_touches_its_month(tmp_path):
    """Staging takes, per month and currency, the latest loaded row of the newest batches of all
    profiles: a profile re-sending its old rate after another profile's newer one changes the rate
    in force, although neither profile's own rows changed."""
    raw = tmp_path / "raw"
    february = {"month": "2025-02-01", "currency": "USD"}
    write_raw_batch(raw, "fx_rates", [{**february, "rate_to_reporting": "7.2"}], profile="canonical")
    write_raw_batch(raw, "fx_rates", [{**february, "rate_to_reporting": "7.1"}], profile="finance")  # in force
    known = _known(tmp_path)
    write_raw_batch(raw, "fx_rates", [{**february, "rate_to_reporting": "7.2"}], profile="canonical")  # now in force
    assert _changes(tmp_path, known).month_labels() == ["2025-02"]
    again = _known(tmp_path)
    write_raw_batch(raw, "fx_rates", [{**february, "rate_to_reporting": "7.2"}], profile="canonical")
    assert _changes(tmp_path, again).month_labels() == []  # the same rate in force: nothing touched
