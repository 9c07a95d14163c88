"""Profiles are validated on load: each mistake fails with a message naming the file and the key."""

import re
import textwrap
from pathlib import Path

import pytest

from ingestion.canonical import ENTITIES
from ingestion.profile import PROFILES_DIR, ProfileError, load_profile

VALID_OPPORTUNITIES = """
entities:
  opportunities:
    files: ["deals*.csv"]
    columns:
      opportunity_id: Id
      owner_rep_id: Owner
      stage: Stage
"""


def write_profile(tmp_path: Path, text: str, name: str = "my_crm") -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def profile_error(tmp_path: Path, text: str) -> str:
    path = write_profile(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message, message  # every message names the profile file
    return message


def test_builtin_profiles_load_and_cover_their_entities():
    canonical = load_profile("canonical")
    assert canonical.name == "canonical"
    assert canonical.entities == list(ENTITIES)
    orders = canonical.sources_for(["orders"])[0]
    assert "orders/*.csv" in orders.patterns() and "orders/*.xlsx" in orders.patterns()
    maven = load_profile("maven_crm")
    assert sorted(maven.entities) == ["accounts", "opportunities", "products", "reps", "teams"]


def test_readme_example_is_a_valid_profile(tmp_path):
    readme = (PROFILES_DIR / "README.md").read_text(encoding="utf-8")
    example = re.findall(r"```yaml\n(.*?)```", readme, re.S)[0]
    profile = load_profile(write_profile(tmp_path, example, "crm_zh"))
    opportunities = profile.sources_for(["opportunities"])[0]
    assert profile.name == "crm_zh"
    assert opportunities.encoding == "gb18030"
    assert dict(opportunities.columns["stage"].values)["赢单"] == "closed_won"
    assert opportunities.columns["lost_reason"].expr_columns == ("输单原因", "备注")
    assert profile.sources_for(["budgets"])[0].header_row == 3


def test_unknown_profile_name_lists_the_builtin_ones():
    with pytest.raises(ProfileError, match=r"profile 'nope' not found.*canonical, crm_zh, maven_crm, salesforce"):
        load_profile("nope")


def test_bad_yaml(tmp_path):
    message = profile_error(tmp_path, "entities: [unclosed\n")
    assert "bad YAML" in message


def test_unknown_entity(tmp_path):
    message = profile_error(tmp_path, "entities:\n  opportunity: {files: x.csv}\n")
    assert "entities.opportunity: unknown entity 'opportunity'" in message


def test_unknown_canonical_column(tmp_path):
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "      stage_name: Stage\n")
    assert "entities.opportunities.columns.stage_name: unknown canonical column 'stage_name'" in message


def test_missing_mapping_for_required_column(tmp_path):
    text = VALID_OPPORTUNITIES.replace("      owner_rep_id: Owner\n", "")
    message = profile_error(tmp_path, text)
    assert "entities.opportunities.columns: missing mapping for required column 'owner_rep_id'" in message


def test_unknown_format_and_encoding(tmp_path):
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "    format: xls\n")
    assert "entities.opportunities.format: unknown format 'xls'" in message
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "    encoding: gb-18030x\n")
    assert "entities.opportunities.encoding: unknown encoding 'gb-18030x'" in message


def test_unknown_key_is_a_typo_not_ignored(tmp_path):
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "    delimeter: ';'\n")
    assert "entities.opportunities: unknown key 'delimeter'" in message


def test_bad_date_format(tmp_path):
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "    date_formats: ['%Y-%Q']\n")
    assert "entities.opportunities.date_formats: bad format '%Y-%Q'" in message


def test_boolean_value_map_key_must_be_quoted(tmp_path):
    text = VALID_OPPORTUNITIES.replace(
        "      stage: Stage\n", "      stage: {column: IsWon, values: {true: closed_won}}\n"
    )
    message = profile_error(tmp_path, text)
    assert "columns.stage.values key True" in message and "quote it" in message


@pytest.mark.parametrize("pattern", ["../other/*.csv", "/etc/*.csv", "sub/../../x.csv", "C:\\\\data\\\\x.csv"])
def test_file_patterns_must_stay_in_the_landing_folder(tmp_path, pattern):
    text = VALID_OPPORTUNITIES.replace('["deals*.csv"]', f'["{pattern}"]')
    message = profile_error(tmp_path, text)
    assert "entities.opportunities.files:" in message
    assert "landing folder" in message


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("'x'; drop table raw.orders", "must be a single SQL expression (no ';')"),
        ("(select max(a) from raw.orders)", "not a statement or query (found 'select')"),
        ("delete", "not a statement or query (found 'delete')"),
        ("a -- comment", "must not contain SQL comments"),
        ("case when a then", "not a valid SQL expression"),
        ("a), (b", "must be a single SQL expression (one value, no FROM, no subqueries)"),
        ("no_such_function(a)", "invalid SQL expression"),
    ],
)
def test_sql_expressions_are_single_validated_expressions(tmp_path, expr, expected):
    text = VALID_OPPORTUNITIES + f'      lost_reason: {{expr: "{expr}"}}\n'
    message = profile_error(tmp_path, text)
    assert "entities.opportunities.columns.lost_reason.expr:" in message
    assert expected in message


def test_row_filter_is_validated_too(tmp_path):
    message = profile_error(tmp_path, VALID_OPPORTUNITIES + "    filter: \"Stage <> 'x'; select 1\"\n")
    assert "entities.opportunities.filter: must be a single SQL expression (no ';')" in message


def test_expression_reads_source_columns_and_keywords_inside_quotes_are_fine(tmp_path):
    text = VALID_OPPORTUNITIES + (
        "      lost_reason: {expr: \"case when \\\"IsClosed\\\" = 'true' then 'select: drop' end\"}\n"
    )
    profile = load_profile(write_profile(tmp_path, text))
    assert profile.sources[0].columns["lost_reason"].expr_columns == ("IsClosed",)


def test_snapshot_date_declarations_are_checked(tmp_path):
    reps = "entities:\n  reps:\n    files: [reps*.csv]\n    columns_by_name: true\n    snapshot_date: {}\n"
    cases = {
        "'2025'": "snapshot_date: must be a mapping",
        "{name: 'reps_(.*)', column: As Of}": "snapshot_date: needs exactly one of name",
        "{}": "snapshot_date: needs exactly one of name",
        "{name: 'reps_(.*', formats: ['%Y']}": "snapshot_date.name: bad regular expression 'reps_(.*'",
        "{name: 'reps_.*'}": "snapshot_date.name: 'reps_.*' must have exactly one (group) around the date, it has 0",
        "{name: '(x)_(y)'}": "snapshot_date.name: '(x)_(y)' must have exactly one (group) around the date, it has 2",
        "{name: '(.*)', formats: [excel]}": "snapshot_date.formats: 'excel' cannot read a date in a file name",
        "{name: '(.*)', formats: ['%Y-%Q']}": "snapshot_date.formats: bad format '%Y-%Q'",
        "{column: ''}": "snapshot_date.column: must be a source column name",
        "{column: X, format: ['%Y']}": "snapshot_date: unknown key 'format'",
    }
    for declared, expected in cases.items():
        message = profile_error(tmp_path, reps.replace("{}", declared, 1))
        assert f"entities.reps.{expected}" in message, (declared, message)
    by_name = load_profile(
        write_profile(tmp_path, reps.replace("{}", "{name: 'reps_(\\d{8})', formats: ['%Y%m%d']}", 1))
    )
    declared = by_name.sources_for(["reps"])[0].snapshot_date
    assert (declared.name.pattern, declared.column, declared.formats) == (r"reps_(\d{8})", None, ("%Y%m%d",))
    by_column = load_profile(write_profile(tmp_path, reps.replace("{}", "{column: As Of}", 1)))
    assert by_column.sources_for(["reps"])[0].snapshot_date.column == "As Of"
