"""bench/compare_warehouses.py on hand-made DuckDB files: equal pairs pass, each kind of difference fails.

Run as a command (`python -m bench.compare_warehouses`), as a person runs it: the tests never import
bench (import-linter's bench-tested-in-one-place contract).
"""

import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent


def make_warehouse(path: Path, amounts: list[float], names: tuple[str, ...] = ("a", "b", "c")) -> Path:
    """marts.sales(id, name, amount) and marts.teams(team_id), rows inserted in the order given."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.sales (id integer, name varchar, amount double)")
        con.executemany("insert into marts.sales values (?, ?, ?)", list(zip([1, 2, 3], names, amounts)))
        con.execute("create table marts.teams (team_id varchar)")
        con.execute("insert into marts.teams values ('north'), (null)")
    return path


def compare(before: Path, after: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.compare_warehouses", str(before), str(after), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_equal_warehouses_in_another_row_order_match(tmp_path):
    before = make_warehouse(tmp_path / "before.duckdb", [10.0, 20.5, 1e9])
    after = tmp_path / "after.duckdb"
    with duckdb.connect(str(after)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.teams (team_id varchar)")
        con.execute("insert into marts.teams values (null), ('north')")
        con.execute("create table marts.sales (id integer, name varchar, amount double)")
        # reversed insertion order, and 1e9 off by 1e9 * 5e-7 (within the 1e-6 relative tolerance)
        con.execute("insert into marts.sales values (3, 'c', 1000000500.0), (2, 'b', 20.5), (1, 'a', 10.0)")
    result = compare(before, after)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 tables compared: no difference" in result.stdout


def test_float_outside_the_tolerance_fails_naming_table_and_row(tmp_path):
    before = make_warehouse(tmp_path / "before.duckdb", [10.0, 20.5, 1e9])
    # 1e9 * 2e-6 apart: twice the tolerance
    after = make_warehouse(tmp_path / "after.duckdb", [10.0, 20.5, 1e9 + 2000.0])
    result = compare(before, after)
    assert result.returncode == 1
    assert "marts.sales: row 2: (3, 'c', 1000000000.0) != (3, 'c', 1000002000.0)" in result.stdout
    assert "1 differences" in result.stdout


def test_rounding_tie_within_tolerance_is_not_a_difference(tmp_path):
    # either side of a 6-decimal tie: they round apart but are 2e-13 apart relatively
    before = make_warehouse(tmp_path / "before.duckdb", [10.0, 20.5, 1.0000005000001])
    after = make_warehouse(tmp_path / "after.duckdb", [10.0, 20.5, 1.0000004999999])
    assert round(1.0000005000001, 6) != round(1.0000004999999, 6)
    assert compare(before, after).returncode == 0


def test_text_row_count_and_missing_table_differences_fail(tmp_path):
    before = make_warehouse(tmp_path / "before.duckdb", [10.0, 20.5, 30.0])
    renamed = make_warehouse(tmp_path / "renamed.duckdb", [10.0, 20.5, 30.0], names=("a", "b", "z"))
    result = compare(before, renamed)
    assert result.returncode == 1
    assert "marts.sales: row 2: (3, 'c', 30.0) != (3, 'z', 30.0)" in result.stdout

    shorter = tmp_path / "shorter.duckdb"
    make_warehouse(shorter, [10.0, 20.5, 30.0])
    with duckdb.connect(str(shorter)) as con:
        con.execute("delete from marts.sales where id = 2")
        con.execute("drop table marts.teams")
    result = compare(before, shorter)
    assert result.returncode == 1
    assert "marts.sales: 3 rows before, 2 after" in result.stdout
    assert f"marts.teams: only in {before}" in result.stdout


def test_a_skipped_schema_is_not_compared(tmp_path):
    before = make_warehouse(tmp_path / "before.duckdb", [10.0, 20.5, 30.0])
    after = make_warehouse(tmp_path / "after.duckdb", [10.0, 20.5, 30.0])
    for path, run_id in ((before, "run-1"), (after, "run-2")):
        with duckdb.connect(str(path)) as con:
            con.execute("create schema quality")
            con.execute(f"create table quality.check_results as select '{run_id}' as run_id")
    assert "quality.check_results: row 0: ('run-1',) != ('run-2',)" in compare(before, after).stdout
    result = compare(before, after, "--skip-schema", "quality")
    assert result.returncode == 0, result.stdout
    assert "2 tables compared: no difference" in result.stdout
