"""Values as the sales report shows them: amounts, percentages, counts, months, and free text
scrubbed of contact details (the page never shows e-mail addresses or phone numbers)."""

from __future__ import annotations

import re
from datetime import date

from orchestration.serving.report_data import missing

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def scrub_contact_details(text) -> str:
    """Free text with any e-mail address or phone number blanked out (a missing value: empty)."""
    if missing(text):
        return ""
    return _PHONE.sub("***", _EMAIL.sub("***", str(text)))


def money(value) -> str:
    return "—" if missing(value) else f"{value:,.2f}"


def percent(value) -> str:
    return "—" if missing(value) else f"{value:.1%}"


def count(value) -> str:
    return "—" if missing(value) else f"{int(value):,}"


def month(value: date | None, L: dict) -> str:
    return value.strftime("%Y-%m") if value else L["unknown"]


def raw(value) -> str:
    return "" if missing(value) else str(value)
