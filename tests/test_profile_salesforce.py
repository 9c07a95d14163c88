"""The `salesforce` profile: a small hand-written org in the shape of a Salesforce Data Export
(one CSV per standard object, API field names, every value quoted, UTC `...T..Z` datetimes,
`true`/`false` booleans) with every expected value worked out by hand, through ingestion and a
real dbt build of the opportunity and rep KPI marts; then the real Fivetran connector sample
(../shared/datasets/salesforce_sample, snake_case names, hashed values): which files it reads,
and exactly which rows quarantine and why."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.ledger import read_ledger
from ingestion.loader import ingest
from tests.conftest import shared_path
from tests.support import build_warehouse, query

USR1, USR2, USR3 = "0055g00000USR001AAA", "0055g00000USR002AAA", "0055g00000USR003AAA"
ROLE_EAST, ROLE_CEO = "00E5g00000ROLE01AAA", "00E5g00000ROLE02AAA"
ACC1, ACC2 = "0015g00000ACC001AAA", "0015g00000ACC002AAA"
OPP1, OPP2, OPP3, OPP4, OPP5 = (f"0065g00000OPP00{i}AAA" for i in range(1, 6))
ORDER1 = "8015g00000ORD001AAA"

ORG = {
    "UserRole.csv": [
        ["Id", "Name", "ParentRoleId", "ForecastUserId", "DeveloperName"],
        [ROLE_EAST, "East Sales", ROLE_CEO, USR1, "East_Sales"],
        [ROLE_CEO, "CEO", "", "", "CEO"],
    ],
    "User.csv": [
        ["Id", "Username", "FirstName", "LastName", "Email", "IsActive", "UserRoleId", "ManagerId", "CreatedDate"],
        [USR1, "wei@example.cn", "Wei", "Wang", "wei@example.cn", "true", ROLE_EAST, "", "2022-01-10T00:00:00.000Z"],
        [USR2, "na@example.cn", "Na", "Li", "na@example.cn", "false", ROLE_EAST, USR1, "2021-06-01T09:30:00.000Z"],
        [USR3, "api@example.cn", "Integration", "User", "api@example.cn", "true", "", "", "2020-01-01T00:00:00.000Z"],
    ],
    "Account.csv": [
        [
            "Id",
            "IsDeleted",
            "Name",
            "Type",
            "Industry",
            "BillingCity",
            "BillingState",
            "AccountSource",
            "OwnerId",
            "CreatedDate",
        ],
        [
            ACC1,
            "false",
            "Shanghai Star Ltd",
            "Customer",
            "Technology",
            "Shanghai",
            "Shanghai",
            "Partner Referral",
            USR1,
            "2023-11-20T02:00:00.000Z",
        ],
        [
            ACC2,
            "false",
            "Hangzhou Bright Co",
            "Prospect",
            "Retail",
            "Hangzhou",
            "Zhejiang",
            "",
            USR2,
            "2024-01-15T08:15:30.000Z",
        ],
    ],
    "Contact.csv": [
        ["Id", "AccountId", "FirstName", "LastName", "Email", "Phone", "Title", "CreatedDate"],
        [
            "0035g00000CON001AAA",
            ACC1,
            "Min",
            "Zhou",
            "min@star.cn",
            "+86 21 5555 0101",
            "CIO",
            "2023-11-21T03:00:00.000Z",
        ],
        ["0035g00000CON002AAA", "", "Jun", "Xu", "jun@gmail.com", "", "", "2024-02-02T03:00:00.000Z"],
    ],
    "Lead.csv": [
        [
            "Id",
            "FirstName",
            "LastName",
            "Company",
            "Status",
            "LeadSource",
            "IsConverted",
            "ConvertedDate",
            "ConvertedAccountId",
            "ConvertedOpportunityId",
            "OwnerId",
            "CreatedDate",
            "Email",
        ],
        [
            "00Q5g00000LEA001AAA",
            "Lei",
            "Sun",
            "Sun Trading",
            "Open - Not Contacted",
            "Web",
            "false",
            "",
            "",
            "",
            USR1,
            "2024-03-01T01:00:00.000Z",
            "lei@sun.cn",
        ],
        [
            "00Q5g00000LEA002AAA",
            "Tao",
            "Ma",
            "Shanghai Star Ltd",
            "Closed - Converted",
            "Partner Referral",
            "true",
            "2024-02-01",
            ACC1,
            OPP2,
            USR2,
            "2024-01-20T06:00:00.000Z",
            "tao@star.cn",
        ],
        [
            "00Q5g00000LEA003AAA",
            "Jie",
            "He",
            "He Logistics",
            "Working - Contacted",
            "",
            "false",
            "",
            "",
            "",
            USR1,
            "2024-03-15T07:45:00.000Z",
            "",
        ],
    ],
    "Opportunity.csv": [
        [
            "Id",
            "IsDeleted",
            "AccountId",
            "Name",
            "StageName",
            "Amount",
            "Probability",
            "CloseDate",
            "IsClosed",
            "IsWon",
            "LeadSource",
            "OwnerId",
            "CreatedDate",
            "LastModifiedDate",
        ],
        [
            OPP1,
            "false",
            ACC1,
            "Cloud rollout",
            "Proposal/Price Quote",
            "50000.00",
            "75",
            "2024-06-30",
            "false",
            "false",
            "Web",
            USR1,
            "2024-03-05T14:30:05.000Z",
            "2024-04-01T09:00:00.000Z",
        ],
        [
            OPP2,
            "false",
            ACC1,
            "Server refresh",
            "Closed Won",
            "120000.00",
            "100",
            "2024-04-15",
            "true",
            "true",
            "Partner Referral",
            USR2,
            "2024-02-01T08:00:00.000Z",
            "2024-04-15T10:00:00.000Z",
        ],
        # the org's own name for a lost stage: IsClosed/IsWon decide
        [
            OPP3,
            "false",
            ACC2,
            "Printers",
            "Closed - Lost to Competitor",
            "8000.00",
            "0",
            "2024-03-20",
            "true",
            "false",
            "",
            USR2,
            "2024-03-01T00:00:00.000Z",
            "2024-03-20T12:00:00.000Z",
        ],
        [
            OPP4,
            "false",
            "",
            "Early talk",
            "Value Proposition",
            "",
            "50",
            "2024-07-31",
            "false",
            "false",
            "",
            USR1,
            "2024-04-02T03:04:05.000Z",
            "2024-04-02T03:04:05.000Z",
        ],
        # a custom open stage this profile does not know: quarantined, never guessed
        [
            OPP5,
            "false",
            ACC2,
            "Custom stage",
            "Discovery",
            "3000.00",
            "10",
            "2024-08-31",
            "false",
            "false",
            "",
            USR1,
            "2024-04-03T00:00:00.000Z",
            "2024-04-03T00:00:00.000Z",
        ],
    ],
    "OpportunityHistory.csv": [
        [
            "Id",
            "OpportunityId",
            "CreatedById",
            "CreatedDate",
            "StageName",
            "Amount",
            "CloseDate",
            "Probability",
            "IsDeleted",
        ],
        # the deal was revised: 40,000 expected in May when it was opened
        [
            "0085g00000HIS001AAA",
            OPP1,
            USR1,
            "2024-03-05T14:30:05.000Z",
            "Prospecting",
            "40000.00",
            "2024-05-31",
            "10",
            "false",
        ],
        [
            "0085g00000HIS002AAA",
            OPP1,
            USR1,
            "2024-03-12T10:00:00.000Z",
            "Qualification",
            "50000.00",
            "2024-06-30",
            "10",
            "false",
        ],
        [
            "0085g00000HIS003AAA",
            OPP1,
            USR1,
            "2024-03-26T10:00:00.000Z",
            "Proposal/Price Quote",
            "50000.00",
            "2024-06-30",
            "75",
            "false",
        ],
        [
            "0085g00000HIS004AAA",
            OPP2,
            USR2,
            "2024-02-01T08:00:00.000Z",
            "Negotiation/Review",
            "120000.00",
            "2024-04-15",
            "90",
            "false",
        ],
        [
            "0085g00000HIS005AAA",
            OPP2,
            USR2,
            "2024-04-15T10:00:00.000Z",
            "Closed Won",
            "120000.00",
            "2024-04-15",
            "100",
            "false",
        ],
    ],
    "Task.csv": [
        [
            "Id",
            "WhoId",
            "WhatId",
            "Subject",
            "ActivityDate",
            "Status",
            "OwnerId",
            "AccountId",
            "IsClosed",
            "CreatedDate",
            "CallDurationInSeconds",
            "CallType",
            "CallDisposition",
            "TaskSubtype",
            "Type",
            "CompletedDateTime",
        ],
        [
            "00T5g00000TSK001AAA",
            "",
            OPP1,
            "Call",
            "2024-04-10",
            "Completed",
            USR1,
            ACC1,
            "true",
            "2024-04-10T02:10:00.000Z",
            "750",
            "Outbound",
            "Reached",
            "Call",
            "Call",
            "2024-04-10T02:00:00.000Z",
        ],
        [
            "00T5g00000TSK002AAA",
            "",
            ACC1,
            "Email: proposal",
            "2024-04-11",
            "Completed",
            USR1,
            ACC1,
            "true",
            "2024-04-11T05:00:00.000Z",
            "",
            "",
            "",
            "Email",
            "Email",
            "2024-04-11T05:00:00.000Z",
        ],
        # a to-do, not a sales activity of the five canonical types
        [
            "00T5g00000TSK003AAA",
            "",
            "",
            "Send contract",
            "2024-04-20",
            "Not Started",
            USR1,
            ACC1,
            "false",
            "2024-04-12T01:00:00.000Z",
            "",
            "",
            "",
            "Task",
            "Other",
            "",
        ],
    ],
    "Event.csv": [
        [
            "Id",
            "WhoId",
            "WhatId",
            "Subject",
            "ActivityDateTime",
            "ActivityDate",
            "DurationInMinutes",
            "OwnerId",
            "AccountId",
            "Type",
            "EventSubtype",
            "CreatedDate",
            "IsAllDayEvent",
        ],
        [
            "00U5g00000EVT001AAA",
            "",
            OPP1,
            "Kick-off",
            "2024-04-11T06:00:00.000Z",
            "2024-04-11",
            "60",
            USR1,
            ACC1,
            "Meeting",
            "Event",
            "2024-04-01T00:00:00.000Z",
            "false",
        ],
        [
            "00U5g00000EVT002AAA",
            "",
            "",
            "Workshop",
            "2024-04-12T01:30:00.000Z",
            "2024-04-12",
            "90",
            USR1,
            ACC1,
            "",
            "Event",
            "2024-04-02T00:00:00.000Z",
            "false",
        ],
    ],
    "Case.csv": [
        [
            "Id",
            "CaseNumber",
            "AccountId",
            "Type",
            "Status",
            "Origin",
            "Priority",
            "IsClosed",
            "ClosedDate",
            "OwnerId",
            "CreatedDate",
        ],
        [
            "5005g00000CAS001AAA",
            "00001001",
            ACC1,
            "Problem",
            "Closed",
            "Phone",
            "High",
            "true",
            "2024-04-02T01:00:00.000Z",
            USR1,
            "2024-04-01T01:00:00.000Z",
        ],
        [
            "5005g00000CAS002AAA",
            "00001002",
            ACC1,
            "",
            "New",
            "Web",
            "Medium",
            "false",
            "",
            USR1,
            "2024-04-05T01:00:00.000Z",
        ],
    ],
    "Product2.csv": [
        ["Id", "Name", "ProductCode", "Family", "IsActive"],
        ["01t5g00000PRD001AAA", "Laptop X1", "LX1", "Hardware", "true"],
        ["01t5g00000PRD002AAA", "Support plan", "SUP", "Services", "true"],
    ],
    "Order.csv": [
        ["Id", "AccountId", "OwnerId", "OpportunityId", "EffectiveDate", "Status", "StatusCode", "Type", "OrderNumber"],
        [ORDER1, ACC1, USR1, OPP2, "2024-04-10", "Activated", "Activated", "New", "00000100"],
        ["8015g00000ORD002AAA", ACC2, USR1, "", "2024-04-12", "Draft", "Draft", "New", "00000101"],
    ],
    "OrderItem.csv": [
        [
            "Id",
            "OrderId",
            "OrderItemNumber",
            "Product2Id",
            "PricebookEntryId",
            "Quantity",
            "UnitPrice",
            "ListPrice",
            "TotalPrice",
        ],
        [
            "8025g00000ITM001AAA",
            ORDER1,
            "0000000101",
            "01t5g00000PRD001AAA",
            "01u5g00000PBE001AAA",
            "2",
            "1500.00",
            "1600.00",
            "3000.00",
        ],
        [
            "8025g00000ITM002AAA",
            ORDER1,
            "0000000102",
            "01t5g00000PRD002AAA",
            "01u5g00000PBE002AAA",
            "1",
            "999.90",
            "999.90",
            "999.90",
        ],
    ],
}


def write_export(folder: Path) -> None:
    """Data Export style: every field quoted, CRLF line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in ORG.items():
        with open(folder / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("salesforce")
    landing = data_dir / "landing" / "salesforce"
    write_export(landing)
    result = ingest(landing, "salesforce", data_dir / "raw", data_dir / "quality")
    return data_dir, result


def raw(data_dir: Path, entity: str, sql: str):
    with duckdb.connect() as con:
        con.execute(f"create view t as from read_parquet('{data_dir}/raw/{entity}/*.parquet')")
        return con.execute(sql).fetchall()


def quarantine(data_dir: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            f"select file_path, row_number, reason from read_parquet("
            f"'{data_dir}/quality/quarantine/*.parquet') order by 1, 2"
        ).fetchall()


# --- a hand-written org ----------------------------------------------------------------------
def test_every_object_file_loads_and_the_odd_rows_quarantine_with_their_reason(org):
    data_dir, result = org
    assert sorted((f.file_path, f.entity, f.status, f.rows_loaded, f.rows_quarantined) for f in result.files) == [
        ("Account.csv", "accounts", "loaded", 2, 0),
        ("Case.csv", "cases", "loaded", 1, 1),
        ("Contact.csv", "contacts", "loaded", 1, 1),
        ("Event.csv", "activities", "loaded", 2, 0),
        ("Lead.csv", "leads", "loaded", 3, 0),
        ("Opportunity.csv", "opportunities", "loaded", 4, 1),
        ("OpportunityHistory.csv", "opportunity_stage_history", "loaded", 5, 0),
        ("Order.csv", "orders", "loaded", 2, 0),
        ("OrderItem.csv", "order_lines", "loaded", 2, 0),
        ("Product2.csv", "products", "loaded", 2, 0),
        ("Task.csv", "activities", "loaded", 2, 1),
        ("User.csv", "reps", "loaded", 2, 1),
        ("UserRole.csv", "teams", "loaded", 2, 0),
    ]
    assert quarantine(data_dir) == [
        ("Case.csv", 2, "category: required value is empty"),
        ("Contact.csv", 2, "account_id: required value is empty"),
        (
            "Opportunity.csv",
            5,
            "stage: 'Discovery' not in (prospecting, qualification, needs_analysis, proposal, "
            "negotiation, closed_won, closed_lost)",
        ),
        ("Task.csv", 3, "activity_type: 'Other' not in (call, visit, meeting, email, demo)"),
        ("User.csv", 3, "team_id: required value is empty"),
    ]


def test_opportunity_stage_comes_from_iswon_isclosed_and_stagename(org):
    data_dir, _ = org
    assert raw(
        data_dir,
        "opportunities",
        "select opportunity_id, stage, account_id, amount, close_date, created_at, "
        "updated_at, owner_rep_id from t order by 1",
    ) == [
        (
            OPP1,
            "proposal",
            ACC1,
            Decimal("50000.00"),
            date(2024, 6, 30),
            datetime(2024, 3, 5, 14, 30, 5),
            datetime(2024, 4, 1, 9),
            USR1,
        ),
        (
            OPP2,
            "closed_won",
            ACC1,
            Decimal("120000.00"),
            date(2024, 4, 15),
            datetime(2024, 2, 1, 8),
            datetime(2024, 4, 15, 10),
            USR2,
        ),
        (
            OPP3,
            "closed_lost",
            ACC2,
            Decimal("8000.00"),
            date(2024, 3, 20),
            datetime(2024, 3, 1),
            datetime(2024, 3, 20, 12),
            USR2,
        ),
        (
            OPP4,
            "needs_analysis",
            None,
            None,
            date(2024, 7, 31),
            datetime(2024, 4, 2, 3, 4, 5),
            datetime(2024, 4, 2, 3, 4, 5),
            USR1,
        ),
    ]
    assert raw(
        data_dir,
        "opportunity_stage_history",
        "select opportunity_id, stage, entered_at, amount, close_date from t order by 1, 3",
    ) == [
        (OPP1, "prospecting", datetime(2024, 3, 5, 14, 30, 5), Decimal("40000.00"), date(2024, 5, 31)),
        (OPP1, "qualification", datetime(2024, 3, 12, 10), Decimal("50000.00"), date(2024, 6, 30)),
        (OPP1, "proposal", datetime(2024, 3, 26, 10), Decimal("50000.00"), date(2024, 6, 30)),
        (OPP2, "negotiation", datetime(2024, 2, 1, 8), Decimal("120000.00"), date(2024, 4, 15)),
        (OPP2, "closed_won", datetime(2024, 4, 15, 10), Decimal("120000.00"), date(2024, 4, 15)),
    ]


def test_users_roles_leads_and_activities(org):
    data_dir, _ = org
    assert raw(data_dir, "teams", "select team_id, team_name, manager_rep_id from t order by 2") == [
        (ROLE_CEO, "CEO", None),
        (ROLE_EAST, "East Sales", USR1),
    ]
    assert raw(
        data_dir, "reps", "select rep_id, rep_name, team_id, manager_rep_id, hire_date, status from t order by 1"
    ) == [
        (USR1, "Wei Wang", ROLE_EAST, None, date(2022, 1, 10), "active"),
        (USR2, "Na Li", ROLE_EAST, USR1, date(2021, 6, 1), "inactive"),
    ]
    assert raw(
        data_dir,
        "leads",
        "select lead_id, status, lead_source, converted_at, converted_opportunity_id from t order by 1",
    ) == [
        ("00Q5g00000LEA001AAA", "new", "Web", None, None),
        ("00Q5g00000LEA002AAA", "converted", "Partner Referral", datetime(2024, 2, 1), OPP2),
        ("00Q5g00000LEA003AAA", "working", "unknown", None, None),
    ]
    assert raw(
        data_dir,
        "activities",
        "select activity_id, activity_type, direction, opportunity_id, occurred_at, "
        "duration_minutes, outcome from t order by 1",
    ) == [
        ("00T5g00000TSK001AAA", "call", "outbound", OPP1, datetime(2024, 4, 10, 2), 13, "Reached"),  # 750 s
        ("00T5g00000TSK002AAA", "email", "outbound", None, datetime(2024, 4, 11, 5), None, None),  # WhatId = account
        ("00U5g00000EVT001AAA", "meeting", None, OPP1, datetime(2024, 4, 11, 6), 60, None),
        ("00U5g00000EVT002AAA", "meeting", None, None, datetime(2024, 4, 12, 1, 30), 90, None),  # no Type: a meeting
    ]
    assert raw(data_dir, "cases", "select category, severity, channel, opened_at, resolved_at, status from t") == [
        ("technical", "high", "Phone", datetime(2024, 4, 1, 1), datetime(2024, 4, 2, 1), "Closed")
    ]


def test_orders_and_order_items(org):
    data_dir, _ = org
    assert raw(
        data_dir, "orders", "select order_id, status, order_date, rep_id, opportunity_id, channel from t order by 1"
    ) == [
        (ORDER1, "completed", date(2024, 4, 10), USR1, OPP2, "New"),
        ("8015g00000ORD002AAA", "pending", date(2024, 4, 12), USR1, None, "New"),
    ]
    assert raw(
        data_dir,
        "order_lines",
        "select order_id, line_number, product_id, quantity, unit_price, discount_amount from t order by 2",
    ) == [
        (ORDER1, 101, "01t5g00000PRD001AAA", Decimal("2"), Decimal("1500"), None),
        (ORDER1, 102, "01t5g00000PRD002AAA", Decimal("1"), Decimal("999.9"), None),
    ]


@pytest.fixture(scope="module")
def warehouse(org):
    data_dir, _ = org
    return build_warehouse(data_dir, select="+fct_opportunities +mart_rep_kpi_monthly")


def test_opportunity_mart_from_the_salesforce_org(warehouse):
    # as_of_date = the latest event: OPP2's close (2024-04-15) and last stage change (2024-04-15 10:00)
    rows = query(
        warehouse,
        "select opportunity_id, status, team_id, weighted_amount, max_stage_order_reached, "
        "sales_cycle_days, age_days from marts.fct_opportunities order by 1",
    )
    assert rows == [
        (OPP1, "open", ROLE_EAST, Decimal("30000.00"), 4, None, 41),  # 50,000 x 0.60; 03-05 -> 04-15
        (OPP2, "won", ROLE_EAST, Decimal("120000.00"), 6, 74, None),  # 02-01 -> 04-15 (leap year)
        (OPP3, "lost", ROLE_EAST, Decimal("0.00"), 1, 19, None),  # 03-01 -> 03-20, no history
        (OPP4, "open", ROLE_EAST, Decimal("0.00"), 3, None, 13),  # no amount counts 0; 04-02 -> 04-15
    ]


def test_rep_kpis_from_the_salesforce_org(warehouse):
    [row] = query(
        warehouse,
        "select gross_revenue, orders_count, units_sold, calls, emails_sent, meetings, "
        "opportunities_created from marts.mart_rep_kpi_monthly "
        "where rep_id = ? and month = date '2024-04-01'",
        [USR1],
    )
    # order 1: 2 x 1,500.00 + 1 x 999.90; the draft order is pending; one call, one sent e-mail,
    # two events; OPP4 created in April (OPP5 was quarantined)
    assert row == (Decimal("3999.90"), 1, Decimal("3"), 1, 1, 2, 1)
    [(won, won_amount, lost)] = query(
        warehouse,
        "select sum(opportunities_won), sum(won_amount), "
        "sum(opportunities_lost) from marts.mart_rep_kpi_monthly "
        "where rep_id = ?",
        [USR2],
    )
    assert (won, won_amount, lost) == (1, Decimal("120000.00"), 1)


# --- the Fivetran connector sample -------------------------------------------------------------
@pytest.fixture(scope="module")
def fivetran(tmp_path_factory):
    folder = shared_path("datasets", "salesforce_sample")
    data_dir = tmp_path_factory.mktemp("salesforce_sample")
    result = ingest(folder, "salesforce", data_dir / "raw", data_dir / "quality")
    return folder, data_dir, result


def read_sample(folder: Path, name: str) -> list[dict]:
    with open(folder / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_fivetran_sample_files_all_load(fivetran):
    folder, data_dir, result = fivetran
    # read: the tables of standard objects this profile maps; left alone: the history-mode account
    # and contact tables, opportunity line items (not orders), the licence and provenance notes
    expected = {
        "sf_user_role_data.csv": "teams",
        "sf_user_data.csv": "reps",
        "sf_account_data.csv": "accounts",
        "sf_contact_data.csv": "contacts",
        "sf_lead_data.csv": "leads",
        "sf_lead_data.source_pkg.csv": "leads",
        "sf_opportunity_data.csv": "opportunities",
        "sf_opportunity_history_data.csv": "opportunity_stage_history",
        "sf_task_data.csv": "activities",
        "sf_event_data.csv": "activities",
        "sf_product_2_data.csv": "products",
        "sf_order_data.csv": "orders",
    }
    assert {f.file_path: f.entity for f in result.files} == expected
    for f in result.files:
        rows = read_sample(folder, f.file_path)
        assert (f.status, f.rows_read) == ("loaded", len(rows)), f.file_path
    ledger = read_ledger(data_dir / "quality")
    assert (ledger.rows_read == ledger.rows_loaded + ledger.rows_quarantined).all()


def test_fivetran_sample_quarantines_exactly_the_rows_its_values_cannot_support(fivetran):
    folder, data_dir, _ = fivetran
    expected = []
    # users without a role: no team
    for i, row in enumerate(read_sample(folder, "sf_user_data.csv"), start=1):
        if not row["user_role_id"]:
            expected.append(("sf_user_data.csv", i, "team_id: required value is empty"))
    # a contact without an account
    for i, row in enumerate(read_sample(folder, "sf_contact_data.csv"), start=1):
        if not row["account_id"]:
            expected.append(("sf_contact_data.csv", i, "account_id: required value is empty"))
    # an open deal's stage_name is hashed, so no stage can be told; closed ones follow is_won/is_closed
    stages = "prospecting, qualification, needs_analysis, proposal, negotiation, closed_won, closed_lost"
    for name in ("sf_opportunity_data.csv", "sf_opportunity_history_data.csv"):
        for i, row in enumerate(read_sample(folder, name), start=1):
            if row["is_closed"].lower() != "true":
                expected.append((name, i, f"stage: '{row['stage_name']}' not in ({stages})"))
    # every task is a to-do (subtype Task) whose type is hashed or empty
    for i, row in enumerate(read_sample(folder, "sf_task_data.csv"), start=1):
        assert row["task_subtype"] == "Task"
        shown = row["type"] or row["task_subtype"]
        expected.append(("sf_task_data.csv", i, f"activity_type: '{shown}' not in (call, visit, meeting, email, demo)"))
    assert quarantine(data_dir) == sorted(expected)
    assert [e[0] for e in expected].count("sf_user_data.csv") == 2
    assert [e[0] for e in expected].count("sf_opportunity_data.csv") == 1


def test_fivetran_sample_values_land_as_the_files_say(fivetran):
    folder, data_dir, _ = fivetran
    opportunities = read_sample(folder, "sf_opportunity_data.csv")
    won = {r["id"] for r in opportunities if r["is_won"] == "true"}
    lost = {r["id"] for r in opportunities if r["is_won"] == "false" and r["is_closed"] == "true"}
    assert dict(raw(data_dir, "opportunities", "select stage, count(*) from t group by 1")) == {
        "closed_won": len(won),
        "closed_lost": len(lost),
    }
    amounts = {r["id"]: Decimal(r["amount"]) for r in opportunities if r["amount"] and r["is_closed"] == "true"}
    assert (
        dict(raw(data_dir, "opportunities", "select opportunity_id, amount from t where amount is not null")) == amounts
    )
    events = read_sample(folder, "sf_event_data.csv")
    assert sorted(raw(data_dir, "activities", "select activity_id, activity_type, duration_minutes from t")) == sorted(
        (e["id"], e["type"].lower(), int(e["duration_in_minutes"])) for e in events
    )
    # the history-mode opportunity table: each version's amount and close date, where it loads
    history = [r for r in read_sample(folder, "sf_opportunity_history_data.csv") if r["is_closed"] == "true"]
    assert any(r["amount"] for r in history)
    assert sorted(
        raw(data_dir, "opportunity_stage_history", "select opportunity_id, entered_at, amount, close_date from t"),
        key=str,
    ) == sorted(
        (
            (
                r["id"],
                datetime.fromisoformat(r["_fivetran_start"]),
                Decimal(r["amount"]) if r["amount"] else None,
                datetime.fromisoformat(r["close_date"]).date(),
            )
            for r in history
        ),
        key=str,
    )
    orders = read_sample(folder, "sf_order_data.csv")
    assert raw(data_dir, "orders", "select count(*) filter (where status = 'completed') from t") == [
        (sum(o["status_code"] == "Activated" for o in orders),)
    ]
    [lead] = read_sample(folder, "sf_lead_data.csv")
    assert raw(data_dir, "leads", "select distinct lead_id, status, lead_source from t") == [
        (lead["id"], "converted", "unknown")
    ]  # is_converted TRUE; no lead_source in the sample
