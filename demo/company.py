"""The demo company before its first order: org, catalogue, leads, accounts, contacts and deals.
Cheap to rebuild from the seed (generate_next_day does)."""

from __future__ import annotations

from dataclasses import dataclass

from demo.catalog import Catalog, build_catalog
from demo.customers import Accounts, Contacts, Leads, build_accounts_and_leads, build_contacts
from demo.org import Org, build_org
from demo.period import Period
from demo.pipeline import Opportunities, build_pipeline


@dataclass(frozen=True)
class Company:
    period: Period
    org: Org
    catalog: Catalog
    accounts: Accounts
    leads: Leads
    contacts: Contacts
    opps: Opportunities


def build_company(scale: float, seed: int, start: str, months: int) -> Company:
    if scale <= 0:
        raise ValueError("scale must be > 0")
    period = Period(start, months)
    org = build_org(period, scale, seed)
    catalog = build_catalog(scale, seed)
    accounts, leads = build_accounts_and_leads(period, org, scale, seed)
    contacts = build_contacts(period, accounts, seed)
    opps = build_pipeline(period, accounts, catalog, seed)  # also decides who becomes a customer
    return Company(period, org, catalog, accounts, leads, contacts, opps)
