"""Results store round trip, blocking failures, the DuckDB view and the HTML report (no GX here)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from orchestration.quality import CheckResult, results_store
from orchestration.quality.report import write_quality_report


def _result(
    check,
    passed,
    severity,
    *,
    run_id="r1",
    layer="marts",
    asset="marts/dim_customers",
    observed="1",
    at=datetime(2025, 1, 1, 12, 0, 0),
):
    return CheckResult(
        run_id=run_id,
        layer=layer,
        asset=asset,
        check_name=check,
        passed=passed,
        severity=severity,
        observed_value=observed,
        details=f"details of {check}",
        checked_at=at,
    )


def test_round_trip_keeps_every_column_and_value(tmp_path):
    written = [
        _result("grain_unique", False, "error", observed="2 duplicated keys"),
        _result("row_count_growth", True, "warn", observed="10"),
    ]
    path = results_store.append(tmp_path, written)
    assert path == tmp_path / "check_results" / "r1-marts-1.parquet"
    frame = results_store.read(tmp_path)
    assert list(frame.columns) == [
        "run_id",
        "layer",
        "asset",
        "check_name",
        "passed",
        "severity",
        "observed_value",
        "details",
        "checked_at",
    ]
    assert frame.to_dict("records") == [r.as_row() for r in written]
    # a second suite run of the same run and layer goes to the next file; nothing is overwritten
    assert results_store.append(tmp_path, written).name == "r1-marts-2.parquet"
    assert len(results_store.read(tmp_path)) == 4


def test_empty_store_reads_as_an_empty_frame_with_the_columns(tmp_path):
    frame = results_store.read(tmp_path)
    assert frame.empty and "check_name" in frame.columns
    assert results_store.blocking_failures(tmp_path, "r1") == []


def test_blocking_failures_are_failed_error_checks_of_the_run_by_latest_result(tmp_path):
    early, late = datetime(2025, 1, 1, 12), datetime(2025, 1, 1, 13)
    results_store.append(
        tmp_path,
        [
            _result("grain_unique", False, "error", at=early),
            _result("rates_within_0_1", False, "error", at=early),
            _result("row_count_growth", False, "warn", at=early),
            _result("nps_within_bounds", True, "error", at=early),
        ],
    )
    results_store.append(tmp_path, [_result("rates_within_0_1", True, "error", at=late)])  # rerun fixed it
    results_store.append(tmp_path, [_result("grain_unique", False, "error", run_id="r2", at=late)])
    blocking = results_store.blocking_failures(tmp_path, "r1")
    assert [(r.check_name, r.passed, r.severity) for r in blocking] == [("grain_unique", False, "error")]
    assert blocking[0] == _result("grain_unique", False, "error", at=early)


def test_expose_creates_the_quality_view(tmp_path):
    results_store.append(tmp_path, [_result("grain_unique", False, "error")])
    with duckdb.connect() as con:
        results_store.expose(con, tmp_path)
        rows = con.execute("select run_id, check_name, passed, severity from quality.check_results").fetchall()
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns where table_name = 'check_results'"
            ).fetchall()
        )
    assert rows == [("r1", "grain_unique", False, "error")]
    assert (types["passed"], types["checked_at"]) == ("BOOLEAN", "TIMESTAMP")


def test_report_lists_failed_checks_first_per_run_and_layer(tmp_path):
    results_store.append(
        tmp_path / "q",
        [
            _result("nps_within_bounds", True, "error", observed="0 of 2 rows"),
            _result("row_count_growth", False, "warn", observed="31"),
            _result("grain_unique", False, "error", observed="2 duplicated keys <b>"),
        ],
    )
    results_store.append(
        tmp_path / "q",
        [
            _result(
                "schema_matches_contract", True, "error", layer="raw", asset="raw/orders", observed="0 columns differ"
            )
        ],
    )
    page = write_quality_report(tmp_path / "q", tmp_path / "reports").read_text(encoding="utf-8")
    assert (tmp_path / "reports" / "data_quality.html").exists()
    # blocking failure, then warning, then passed
    assert page.index("grain_unique") < page.index("row_count_growth") < page.index("nps_within_bounds")
    assert page.index("<h3>raw</h3>") < page.index("<h3>marts</h3>")
    assert "2 duplicated keys &lt;b&gt;" in page  # observed values are escaped
    assert "2 failed" in page and "1 blocking the publish" in page
    assert "http://" not in page and "https://" not in page  # self-contained
