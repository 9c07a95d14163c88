"""The README's "Questions a sales manager asks" run, as printed, against the published demo warehouse.

The README is where an analyst copies SQL from: a question that names a column a mart no longer has,
or a mart that was renamed, fails here instead of in somebody's dashboard.
"""

import re
from pathlib import Path

import duckdb
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_questions() -> list[tuple[str, str]]:
    """(question, SQL) for every statement of the SQL block after "Questions a sales manager asks"."""
    text = README.read_text()
    block = re.search(r"Questions a sales manager asks.*?```sql\n(.*?)```", text, re.S).group(1)
    questions = []
    for statement in (s.strip() for s in block.split(";")):
        if not statement:
            continue
        comments = [line[2:].strip() for line in statement.splitlines() if line.startswith("--")]
        questions.append((" ".join(comments), statement))
    return questions


def test_the_readme_asks_the_history_product_and_cold_deal_questions():
    asked = " ".join(q for q, _ in readme_questions())
    for topic in ("pipeline move", "forecasts right", "going cold", "margin"):
        assert topic in asked, topic


@pytest.mark.parametrize("question, sql", readme_questions(), ids=lambda v: v[:40] if isinstance(v, str) else v)
def test_every_readme_question_runs_on_the_published_warehouse(demo_run, question, sql):
    assert demo_run.exit_code == 0, demo_run.output
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        relation = con.sql(sql)
        columns, rows = relation.columns, relation.fetchall()
    selected = re.search(r"select (.*?)\nfrom marts", sql.split(")\nselect", 1)[-1], re.S)
    assert columns, question
    if selected and "(" not in selected.group(1):  # plain column lists come back as named
        assert columns == [c.strip() for c in selected.group(1).replace("\n", " ").split(",")]
    # the demo company has a pipeline history and sells products every month; whether a VIP went
    # quiet or a deal went cold depends on the day
    if any(topic in question for topic in ("pipeline move", "forecasts right", "margin")):
        assert rows, f"no answer to: {question}"
