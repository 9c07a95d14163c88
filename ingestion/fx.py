"""More than one currency (exports.md, "Conventions"): what ingestion checks of a `currency` code.

A `currency` value is an ISO 4217 code, three capital letters; empty means the reporting currency.
Amounts in another currency load as they are: staging converts them with the `fx_rates` row of
their currency and business month (dbt macro `to_reporting`), and the blocking staging check
`fx_rate_present` names each currency and month that lacks a rate, with its row count. A
malformed code is a row-level error: the row is quarantined.
"""

from __future__ import annotations

ISO_4217 = "^[A-Z]{3}$"


def currency_code_reason() -> str:
    """SQL: the quarantine reason of a malformed currency code, NULL for a good or empty one."""
    return (
        f"case when currency is not null and not regexp_full_match(currency, '{ISO_4217[1:-1]}') then "
        "'currency: ''' || left(currency, 80) || ''' is not an ISO 4217 code (three capital letters)' end"
    )
