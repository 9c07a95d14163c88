"""The canonical entities of the landing contract (../shared/spec/exports.md), in one place.

Everything that needs to know an entity's columns, types, keys or enums reads it from here:
the profile validator, the loader (typed raw Parquet), the generator, the raw-zone views that
dbt reads as sources, and the raw-layer quality suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Raw-zone column types (DuckDB spelling). Money is DECIMAL(18,2) in the reporting currency.
VARCHAR = "VARCHAR"
DATE = "DATE"
TIMESTAMP = "TIMESTAMP"
MONEY = "DECIMAL(18,2)"
QUANTITY = "DECIMAL(18,4)"
PRICE = "DECIMAL(18,4)"
INTEGER = "INTEGER"
MONTH = "DATE"  # `YYYY-MM` in files, first day of the month in the raw zone
FX_RATE = "DECIMAL(18,8)"  # units of the reporting currency per unit of another currency

# Dates more than this many days after the day a file is ingested are typos (2205 for 2025) or
# placeholders: quarantined, unless the column's `future_ok` allows it (Settings overrides it).
FUTURE_DATE_HORIZON_DAYS = 366

# Lineage columns appended to every raw batch.
LINEAGE_COLUMNS: dict[str, str] = {
    "_batch_id": VARCHAR,
    "_profile": VARCHAR,
    "_source_file": VARCHAR,
    "_row_number": "BIGINT",
    "_loaded_at": TIMESTAMP,
    # The file's snapshot date (exports.md "Snapshots are effective-dated"): the date its profile
    # declares, else the UTC date it landed. Every batch carries it; snapshot entities use it.
    "_snapshot_date": DATE,
}

STAGES = (
    "prospecting",
    "qualification",
    "needs_analysis",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
)
CLOSED_STAGES = ("closed_won", "closed_lost")
EXPENSE_CATEGORIES = ("personnel", "marketing", "incentives", "travel", "training", "tools", "other")
# csat_rate is a fraction (0.9 = 90 % satisfied), nps on its own -100..100 scale (marts.md)
TARGET_METRICS = ("net_revenue", "new_customers", "visits", "csat_rate", "nps")


@dataclass(frozen=True)
class Column:
    name: str
    type: str = VARCHAR
    required: bool = False
    enum: tuple[str, ...] | None = None
    # Month columns are written `YYYY-MM` and stored as the first day of that month.
    is_month: bool = False
    # Dates: SQL (over the row's typed columns) that is true where a date beyond the future
    # horizon is legitimate, e.g. the expected close date of an open deal; "true" always.
    future_ok: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    kind: str  # "S" snapshot (a new file replaces current state) | "E" event (appended)
    group: str  # source system: crm | orders | surveys | planning
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    # Row rules beyond types/required/enums, as SQL boolean expressions over typed columns;
    # a row for which one is FALSE is quarantined with the rule's text as its reason.
    rules: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no canonical column {name!r}")


def _e(name, kind, group, key, cols, description="", rules=()):
    return Entity(name, kind, group, tuple(key), tuple(cols), description, tuple(rules))


C = Column
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        # --- CRM ---------------------------------------------------------------------------
        _e(
            "teams",
            "S",
            "crm",
            ["team_id"],
            [
                C("team_id", required=True),
                C("team_name"),
                C("region"),
                C("manager_rep_id"),
                C("valid_from", DATE),
            ],
            "Sales teams and their region.",
        ),
        _e(
            "reps",
            "S",
            "crm",
            ["rep_id"],
            [
                C("rep_id", required=True),
                C("rep_name"),
                C("email"),
                C("team_id", required=True),
                C("manager_rep_id"),
                C("region"),
                C("hire_date", DATE),
                C("end_date", DATE, future_ok="true"),  # HR systems write 9999-12-31 for "no end"
                C("status", enum=("active", "inactive")),
                C("valid_from", DATE),
            ],
            "Sales reps, their team and employment dates.",
        ),
        _e(
            "accounts",
            "S",
            "crm",
            ["account_id"],
            [
                C("account_id", required=True),
                C("account_name", required=True),
                C("industry"),
                C("region"),
                C("city"),
                C("owner_rep_id"),
                C("created_at", TIMESTAMP, required=True),
                C("lead_source"),
                C("valid_from", DATE),
            ],
            "Customer accounts (prospects included) and their owner.",
        ),
        _e(
            "contacts",
            "S",
            "crm",
            ["contact_id"],
            [
                C("contact_id", required=True),
                C("account_id", required=True),
                C("full_name"),
                C("email"),
                C("phone"),
                C("title"),
                C("created_at", TIMESTAMP),
            ],
            "People at accounts (personal data: never published in clear).",
        ),
        _e(
            "leads",
            "E",
            "crm",
            ["lead_id"],
            [
                C("lead_id", required=True),
                C("created_at", TIMESTAMP, required=True),
                C("lead_source", required=True),
                C("owner_rep_id"),
                C("status", required=True, enum=("new", "working", "qualified", "unqualified", "converted")),
                C("qualified_at", TIMESTAMP),
                C("converted_at", TIMESTAMP),
                C("converted_account_id"),
                C("converted_opportunity_id"),
                C("company_name"),
                C("email"),
            ],
            "Marketing and sales leads.",
        ),
        _e(
            "opportunities",
            "E",
            "crm",
            ["opportunity_id"],
            [
                C("opportunity_id", required=True),
                C("owner_rep_id", required=True),
                C("stage", required=True, enum=STAGES),
                C("account_id"),
                C("lead_id"),
                C("product_id"),
                # an open deal's close_date is an expectation; a closed deal's is the day it closed
                C("created_at", TIMESTAMP),
                C("close_date", DATE, future_ok=f"stage not in {CLOSED_STAGES}"),
                C("amount", MONEY),
                C("currency"),
                C("lost_reason"),
                C("updated_at", TIMESTAMP),
            ],
            "Deals; a newer row for the same opportunity_id is a newer version.",
            [("amount >= 0", "amount must be >= 0")],
        ),
        _e(
            "opportunity_stage_history",
            "E",
            "crm",
            ["opportunity_id", "stage", "entered_at"],
            [
                C("opportunity_id", required=True),
                C("stage", required=True, enum=STAGES),
                C("entered_at", TIMESTAMP, required=True),
                C("amount", MONEY),
                C("close_date", DATE, future_ok=f"stage not in {CLOSED_STAGES}"),  # an open deal's expectation
            ],
            "When each opportunity entered each stage, with its amount and expected close date then.",
            [("amount >= 0", "amount must be >= 0")],
        ),
        _e(
            "activities",
            "E",
            "crm",
            ["activity_id"],
            [
                C("activity_id", required=True),
                C("rep_id", required=True),
                C("account_id"),
                C("opportunity_id"),
                C("activity_type", required=True, enum=("call", "visit", "meeting", "email", "demo")),
                C("direction", enum=("outbound", "inbound")),
                C("occurred_at", TIMESTAMP, required=True),
                C("responded_at", TIMESTAMP),
                C("duration_minutes", INTEGER),
                C("outcome"),
            ],
            "Calls, visits, meetings, demos and e-mails.",
            [("duration_minutes >= 0", "duration_minutes must be >= 0")],
        ),
        _e(
            "cases",
            "E",
            "crm",
            ["case_id"],
            [
                C("case_id", required=True),
                C("account_id", required=True),
                C("opened_at", TIMESTAMP, required=True),
                C("category", required=True, enum=("complaint", "inquiry", "return", "technical")),
                C("severity", enum=("low", "medium", "high")),
                C("channel"),
                C("owner_rep_id"),
                C("first_response_at", TIMESTAMP),
                C("resolved_at", TIMESTAMP),
                C("status"),
            ],
            "Service cases: complaints, inquiries, returns, technical issues.",
        ),
        # --- Orders --------------------------------------------------------------------------
        _e(
            "products",
            "S",
            "orders",
            ["product_id"],
            [
                C("product_id", required=True),
                C("product_name", required=True),
                C("category"),
                C("list_price", PRICE),
                C("unit_cost", PRICE),
                C("currency"),
            ],
            "The product catalogue.",
            [("list_price >= 0", "list_price must be >= 0"), ("unit_cost >= 0", "unit_cost must be >= 0")],
        ),
        _e(
            "orders",
            "E",
            "orders",
            ["order_id"],
            [
                C("order_id", required=True),
                C("account_id", required=True),
                C("rep_id"),
                C("opportunity_id"),
                C("order_date", DATE, required=True),
                C("status", required=True, enum=("completed", "cancelled", "pending")),
                C("channel"),
                C("currency"),
            ],
            "Order headers.",
        ),
        _e(
            "order_lines",
            "E",
            "orders",
            ["order_id", "line_number"],
            [
                C("order_id", required=True),
                C("line_number", INTEGER, required=True),
                C("product_id", required=True),
                C("quantity", QUANTITY, required=True),
                C("unit_price", PRICE, required=True),
                C("discount_amount", MONEY),
            ],
            "Order lines; net amount = quantity * unit_price - coalesce(discount_amount, 0).",
            [
                ("quantity > 0", "quantity must be > 0"),
                ("unit_price >= 0", "unit_price must be >= 0"),
                ("discount_amount >= 0", "discount_amount must be >= 0"),
                ("discount_amount <= quantity * unit_price", "discount_amount must be <= quantity * unit_price"),
            ],
        ),
        _e(
            "returns",
            "E",
            "orders",
            ["return_id"],
            [
                C("return_id", required=True),
                C("order_id", required=True),
                C("line_number", INTEGER),
                C("return_date", DATE, required=True),
                C("quantity", QUANTITY),
                C("refund_amount", MONEY, required=True),
                C("reason"),
            ],
            "Returns and refunds (counted in the month of return_date).",
            [("refund_amount >= 0", "refund_amount must be >= 0"), ("quantity > 0", "quantity must be > 0")],
        ),
        # --- Surveys -------------------------------------------------------------------------
        _e(
            "survey_responses",
            "E",
            "surveys",
            ["response_id"],
            [
                C("response_id", required=True),
                C("survey_type", required=True, enum=("nps", "csat")),
                C("submitted_at", TIMESTAMP, required=True),
                C("score", INTEGER, required=True),
                C("account_id"),
                C("contact_id"),
                C("order_id"),
                C("case_id"),
                C("comment"),
            ],
            "NPS (0-10) and CSAT (1-5) survey responses.",
            [
                (
                    "(survey_type = 'nps' and score between 0 and 10)"
                    " or (survey_type = 'csat' and score between 1 and 5)",
                    "score out of range for survey_type (nps 0-10, csat 1-5)",
                )
            ],
        ),
        # --- Planning and finance ----------------------------------------------------------
        _e(
            "budgets",
            "S",
            "planning",
            ["month", "team_id", "category"],
            [
                C("month", MONTH, required=True, is_month=True),
                C("team_id", required=True),
                C("category", required=True, enum=EXPENSE_CATEGORIES),
                C("budget_amount", MONEY, required=True),
                C("currency"),
            ],
            "Monthly budget per team and category.",
            [("budget_amount >= 0", "budget_amount must be >= 0")],
        ),
        _e(
            "expenses",
            "E",
            "planning",
            ["expense_id"],
            [
                C("expense_id", required=True),
                C("expense_date", DATE, required=True),
                C("team_id", required=True),
                C("category", required=True, enum=EXPENSE_CATEGORIES),
                C("amount", MONEY, required=True),
                C("rep_id"),
                C("description"),
                C("currency"),
            ],
            "Actual spend per team and category.",
        ),
        _e(
            "targets",
            "S",
            "planning",
            ["month", "metric", "rep_id", "team_id"],
            [
                C("month", MONTH, required=True, is_month=True),
                C("metric", required=True, enum=TARGET_METRICS),
                C("target_value", MONEY, required=True),
                C("rep_id"),
                C("team_id"),
            ],
            "Rep and team targets per month (exactly one of rep_id, team_id).",
            [("(rep_id is null) <> (team_id is null)", "exactly one of rep_id, team_id must be set")],
        ),
        _e(
            "fx_rates",
            "S",
            "planning",
            ["month", "currency"],
            [
                C("month", MONTH, required=True, is_month=True),
                C("currency", required=True),
                C("rate_to_reporting", FX_RATE, required=True),
            ],
            "Monthly exchange rates: one unit of `currency` is worth rate_to_reporting units of the "
            "reporting currency.",
            [("rate_to_reporting > 0", "rate_to_reporting must be > 0")],
        ),
    ]
}

GROUPS = ("crm", "orders", "surveys", "planning")

# Entities whose rows carry a `currency` column: an ISO 4217 code (empty = the reporting currency).
CURRENCY_ENTITIES = tuple(e for e, ent in ENTITIES.items() if "currency" in ent.column_names)


def entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown entity {name!r}; canonical entities: {', '.join(ENTITIES)}") from None
