"""tests/check_import_ctes.py: each small bad model fails naming its file and line; good ones pass.

The checker runs as a command, as `make lint` runs it, on models written here by hand, then on the
project's own models.
"""

import subprocess
import sys
from pathlib import Path

CHECKER = Path(__file__).resolve().parent / "check_import_ctes.py"

GOOD = """\
-- a comment naming {{ ref('ignored') }} in prose is not an input
{{ config(materialized='table') }}
with orders as (
    select * from {{ ref('stg_orders') }}
),

raw_fx as (
    {{ latest_version(source('raw', 'fx_rates'), ['month', 'currency'], 'S') }}
),

{% for name in ['a', 'b'] -%}
{{ name }}_lines as (
    select * from {{ ref('int_' ~ name) }}
),

{% endfor -%}
totals as (
    select order_id, count(*) as n  {# a Jinja comment: {{ ref('also_ignored') }} #}
    from orders
    left join raw_fx on orders.currency = raw_fx.currency
    group by order_id
),

final as (
    select * from totals where n > 0
)

select * from final
"""

REF_IN_JOIN = """\
with orders as (
    select * from {{ ref('stg_orders') }}
),

joined as (
    select orders.order_id, accounts.name
    from orders
    left join {{ ref('stg_accounts') }} as accounts
        on orders.account_id = accounts.account_id
),

final as (
    select * from joined
)

select * from final
"""

NO_FINAL = """\
with orders as (
    select * from {{ ref('stg_orders') }}
)

select order_id from orders
"""

REF_IN_FINAL_SELECT = """\
with orders as (
    select * from {{ ref('stg_orders') }}
),

final as (
    select * from orders
)

select * from final
union all
select * from {{ ref('stg_orders_archive') }}
"""

TWO_INPUTS_IN_FIRST_CTE = """\
with event_dates as (
    select order_date as d from {{ ref('stg_orders') }}
    union all select occurred_at from {{ source('raw', 'activities') }}
),

final as (
    select max(d) as as_of_date from event_dates
)

select * from final
"""


def run_checker(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECKER), *map(str, paths)], capture_output=True, text=True, check=False)


def write(tmp_path: Path, name: str, sql: str) -> Path:
    path = tmp_path / name
    path.write_text(sql, encoding="utf-8")
    return path


def test_good_model_passes(tmp_path):
    result = run_checker(write(tmp_path, "good.sql", GOOD))
    assert result.returncode == 0, result.stdout
    assert "1 models, 0 findings" in result.stdout


def test_ref_inside_a_join_fails_at_its_line(tmp_path):
    path = write(tmp_path, "joined.sql", REF_IN_JOIN)
    result = run_checker(path)
    assert result.returncode == 1
    assert f"{path}:8: ref() in CTE 'joined' after the import block" in result.stdout


def test_missing_final_cte_fails(tmp_path):
    path = write(tmp_path, "no_final.sql", NO_FINAL)
    result = run_checker(path)
    assert result.returncode == 1
    assert f"{path}:5: no CTE named 'final'" in result.stdout


def test_ref_after_final_and_a_two_input_import_fail(tmp_path):
    after_final = write(tmp_path, "after_final.sql", REF_IN_FINAL_SELECT)
    two_inputs = write(tmp_path, "two_inputs.sql", TWO_INPUTS_IN_FIRST_CTE)
    result = run_checker(after_final, two_inputs)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{after_final}:11: ref() in the final select: declare it as an import CTE at the top" in lines
    assert f"{after_final}:9: the model must end with `select * from final`" in lines
    assert f"{two_inputs}:3: import CTE 'event_dates' reads 2 inputs: one import CTE per ref() or source()" in lines
    assert lines[-1] == "import CTEs: 2 models, 3 findings"


def test_the_project_models_pass():
    result = run_checker()
    models = len(list((CHECKER.parent.parent / "dbt_project" / "models").rglob("*.sql")))
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == f"import CTEs: {models} models, 0 findings"
