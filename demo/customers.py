"""Leads, accounts and contacts, and the buying behaviour behind each account.

About a third of the accounts predate the period (the existing customer base, mostly buying
already); the rest are created over the period from converted leads and become customers only
when their first opportunity is won. Each account gets a latent order rate, satisfaction and a
churn day, from which orders, surveys and the lifecycle stages follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.org import Org, rep_ids
from demo.period import (
    SECONDS_PER_DAY,
    DaySampler,
    Groups,
    Period,
    business_seconds,
    rng_for,
    weighted_choice,
)
from demo.vocab import (
    BRAND_WORDS,
    COMPANY_SUFFIXES,
    CONTACT_TITLES,
    GIVEN_NAMES,
    INDUSTRIES,
    LEAD_SOURCE_WEIGHTS_CONVERTED,
    LEAD_SOURCE_WEIGHTS_OTHER,
    LEAD_SOURCES,
    REGIONS,
    SURNAMES,
)

NEVER = np.iinfo(np.int64).max // 4
ACCOUNTS_PER_SCALE = 1000
MIN_ACCOUNTS = 20
SHARE_EXISTING_ACCOUNTS = 0.5  # created before the period
SHARE_EXISTING_BUYING = 0.88  # of those, already customers when the period starts
OTHER_LEADS_PER_CONVERTED = 3.0
MEAN_CUSTOMER_LIFETIME_DAYS = 5 * 365
# about a third of the customers buy only now and then (the `active` rather than `loyal` ones)
SHARE_OCCASIONAL_BUYERS = 0.35
OCCASIONAL_RATE_FACTOR = 0.08
SHARE_REASSIGNED = 0.03  # customers handed to another rep during the period
MIN_REASSIGNED = 3

CITIES = [city for _, cities in REGIONS for city in cities]
_CITY_REGION = np.array([r for r, (_, cities) in enumerate(REGIONS) for _ in cities])
_REGION_FIRST_CITY = np.searchsorted(_CITY_REGION, np.arange(len(REGIONS)))
_REGION_CITY_COUNT = np.bincount(_CITY_REGION, minlength=len(REGIONS))


@dataclass
class Accounts:
    created_ts: np.ndarray
    existing: np.ndarray  # created before the period
    init_owner: np.ndarray  # owner when the account was created (or when the period began)
    owner: np.ndarray  # current owner: the initial one, or a successor when that rep left
    init_owner_until: np.ndarray  # last day the initial owner was employed
    city: np.ndarray
    industry: np.ndarray
    name_brand: np.ndarray
    name_fragment: np.ndarray
    name_suffix: np.ndarray
    lead_source: np.ndarray  # index into LEAD_SOURCES, -1 = unknown
    lead: np.ndarray  # lead index the account was converted from, -1 = none
    satisfaction: np.ndarray  # latent, standard normal
    order_rate: np.ndarray  # relative; scaled to the target order volume by sales.py
    churn_day: np.ndarray  # no more repeat orders after this day
    buying_at_start: np.ndarray  # existing customer buying from the first day of the period
    first_active_day: np.ndarray  # repeat orders start the day after; NEVER for prospects

    @property
    def n(self) -> int:
        return len(self.created_ts)

    def owner_on(self, accounts: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The owner of each account on each day: the initial owner while employed, then the successor."""
        return np.where(days <= self.init_owner_until[accounts], self.init_owner[accounts], self.owner[accounts])


@dataclass
class Leads:
    created_ts: np.ndarray
    source: np.ndarray
    owner: np.ndarray  # -1 = unassigned
    status: np.ndarray  # index into LEAD_STATUSES
    qualified_ts: np.ndarray  # -1 = none
    converted_ts: np.ndarray  # -1 = none
    account: np.ndarray  # converted account, -1 = none
    surname: np.ndarray
    given: np.ndarray
    company_city: np.ndarray
    company_brand: np.ndarray
    company_fragment: np.ndarray
    company_industry: np.ndarray

    @property
    def n(self) -> int:
        return len(self.created_ts)


LEAD_STATUSES = ("new", "working", "qualified", "unqualified", "converted")
_CONVERTED = LEAD_STATUSES.index("converted")


def _company_parts(rng: np.random.Generator, regions: np.ndarray):
    n = len(regions)
    city = _REGION_FIRST_CITY[regions] + (rng.random(n) * _REGION_CITY_COUNT[regions]).astype(np.int64)
    industry = rng.integers(0, len(INDUSTRIES), n)
    fragment_count = np.array([len(f) for _, f in INDUSTRIES])[industry]
    fragment = (rng.random(n) * fragment_count).astype(np.int64)
    brand = rng.integers(0, len(BRAND_WORDS), n)
    return city.astype(np.int16), industry.astype(np.int16), brand.astype(np.int16), fragment.astype(np.int16)


def build_accounts_and_leads(period: Period, org: Org, scale: float, seed: int) -> tuple[Accounts, Leads]:
    rng = rng_for(seed, "accounts")
    sampler = DaySampler(period)
    n_accounts = max(MIN_ACCOUNTS, round(ACCOUNTS_PER_SCALE * scale))
    n_existing = round(SHARE_EXISTING_ACCOUNTS * n_accounts)
    n_converted = n_accounts - n_existing
    start, end = period.start_day, period.end_day

    # converted leads: created over the period, converted days to weeks later (before the end)
    lead_day = sampler.sample(rng, np.full(n_converted, start), np.full(n_converted, end - 3))
    lead_ts = lead_day * SECONDS_PER_DAY + business_seconds(rng, n_converted)
    lag = np.clip(rng.lognormal(np.log(14 * SECONDS_PER_DAY), 0.7, n_converted), 3600, 90 * SECONDS_PER_DAY)
    converted_ts = np.minimum(lead_ts + lag.astype(np.int64), period.end_ts - 60)
    converted_ts = np.maximum(converted_ts, lead_ts + 60)
    order = np.argsort(converted_ts, kind="stable")  # account ids follow creation order
    lead_ts, converted_ts = lead_ts[order], converted_ts[order]
    qualified_ts = lead_ts + (rng.uniform(0.2, 0.8, n_converted) * (converted_ts - lead_ts)).astype(np.int64)
    converted_source = weighted_choice(rng, LEAD_SOURCE_WEIGHTS_CONVERTED, n_converted)

    existing_days = start - rng.integers(30, 4 * 365, n_existing)
    existing_ts = np.sort(existing_days * SECONDS_PER_DAY + business_seconds(rng, n_existing))
    created_ts = np.concatenate([existing_ts, converted_ts])
    existing = np.arange(n_accounts) < n_existing

    # owners: existing accounts are owned by a rep employed when the period starts
    owner_day = np.where(existing, start, created_ts // SECONDS_PER_DAY)
    init_owner = org.pick_employed(rng, owner_day)
    owner = init_owner.copy()
    left = org.rep_left[init_owner]
    owner[left] = org.pick_successor(rng, init_owner[left])
    city, industry, brand, fragment = _company_parts(rng, org.team_region[org.rep_team[init_owner]])

    lead_source = np.concatenate(
        [
            np.where(rng.random(n_existing) < 0.8, weighted_choice(rng, LEAD_SOURCE_WEIGHTS_CONVERTED, n_existing), -1),
            converted_source,
        ]
    )
    satisfaction = rng.standard_normal(n_accounts)
    buying_at_start = existing & (rng.random(n_accounts) < SHARE_EXISTING_BUYING)
    accounts = Accounts(
        created_ts=created_ts,
        existing=existing,
        init_owner=init_owner,
        owner=owner,
        init_owner_until=org.rep_end_day[init_owner],
        city=city,
        industry=industry,
        name_brand=brand,
        name_fragment=fragment,
        name_suffix=weighted_choice(rng, (0.75, 0.2, 0.05), n_accounts).astype(np.int8),
        lead_source=lead_source.astype(np.int8),
        lead=np.full(n_accounts, -1),
        satisfaction=satisfaction,
        order_rate=rng.lognormal(0.0, 0.8, n_accounts)
        * np.where(rng.random(n_accounts) < SHARE_OCCASIONAL_BUYERS, OCCASIONAL_RATE_FACTOR, 1.0),
        churn_day=np.full(n_accounts, NEVER),  # set below
        buying_at_start=buying_at_start,
        first_active_day=np.where(buying_at_start, start - 1, NEVER),
    )
    lifetime = rng.exponential(MEAN_CUSTOMER_LIFETIME_DAYS * np.exp(0.5 * satisfaction))  # unhappy ones leave sooner
    accounts.churn_day = np.where(buying_at_start, start, created_ts // SECONDS_PER_DAY) + lifetime.astype(np.int64)

    # other leads: not (yet) converted
    n_other = round(OTHER_LEADS_PER_CONVERTED * n_converted)
    other_day = sampler.sample(rng, np.full(n_other, start), np.full(n_other, end))
    other_ts = other_day * SECONDS_PER_DAY + business_seconds(rng, n_other)
    recent = (end - other_day) < 30
    status = np.where(
        recent,
        weighted_choice(rng, (0.5, 0.5), n_other),  # new / working
        weighted_choice(rng, (0.0, 0.15, 0.20, 0.65), n_other),  # working / qualified / unqualified
    )
    other_qualified = np.where(
        status == LEAD_STATUSES.index("qualified"),
        np.minimum(other_ts + rng.integers(1, 20, n_other) * SECONDS_PER_DAY, period.end_ts - 1),
        -1,
    )
    other_owner = np.where(rng.random(n_other) < 0.9, org.pick_employed(rng, other_day), -1)
    other_city, other_industry, other_brand, other_fragment = _company_parts(
        rng, rng.integers(0, len(REGIONS), n_other)
    )

    # all leads in creation order
    lead_created = np.concatenate([lead_ts, other_ts])
    lead_order = np.argsort(lead_created, kind="stable")
    n_leads = n_converted + n_other
    lead_index = np.empty(n_leads, dtype=np.int64)
    lead_index[lead_order] = np.arange(n_leads)
    accounts.lead[n_existing:] = lead_index[:n_converted]

    def ordered(converted_part, other_part):
        return np.concatenate([converted_part, other_part])[lead_order]

    leads = Leads(
        created_ts=lead_created[lead_order],
        source=ordered(converted_source, weighted_choice(rng, LEAD_SOURCE_WEIGHTS_OTHER, n_other)).astype(np.int8),
        owner=ordered(init_owner[n_existing:], other_owner).astype(np.int32),
        status=ordered(np.full(n_converted, _CONVERTED), status).astype(np.int8),
        qualified_ts=ordered(qualified_ts, other_qualified),
        converted_ts=ordered(converted_ts, np.full(n_other, -1)),
        account=ordered(np.arange(n_existing, n_accounts), np.full(n_other, -1)).astype(np.int32),
        surname=rng.integers(0, len(SURNAMES), n_leads)[lead_order].astype(np.int8),
        given=rng.integers(0, len(GIVEN_NAMES), n_leads)[lead_order].astype(np.int8),
        company_city=ordered(city[n_existing:], other_city),
        company_brand=ordered(brand[n_existing:], other_brand),
        company_fragment=ordered(fragment[n_existing:], other_fragment),
        company_industry=ordered(industry[n_existing:], other_industry),
    )
    _reassign(accounts, org, period, seed)
    return accounts, leads


def _reassign(acc: Accounts, org: Org, period: Period, seed: int) -> None:
    """A few customers are handed to another rep during the period (besides the accounts of reps
    who left), so orders without a rep_id fall to different owners before and after. Own random
    stream: everything drawn before is unchanged."""
    rng = rng_for(seed, "owner_changes")
    keep = np.flatnonzero(acc.buying_at_start & (acc.init_owner == acc.owner))
    chosen = np.sort(
        rng.choice(keep, min(len(keep), max(MIN_REASSIGNED, round(SHARE_REASSIGNED * acc.n))), replace=False)
    )
    day = period.start_day + 30 + rng.integers(0, max(1, period.n_days - 60), len(chosen))
    stayers = np.flatnonzero(~org.rep_left)
    new = stayers[rng.integers(0, len(stayers), len(chosen))]
    for _ in range(30):  # a colleague hired by then, not the owner already
        redo = (new == acc.init_owner[chosen]) | (org.rep_hire_day[new] > day)
        if not redo.any():
            break
        new[redo] = stayers[rng.integers(0, len(stayers), int(redo.sum()))]
    ok = (new != acc.init_owner[chosen]) & (org.rep_hire_day[new] <= day)
    acc.owner[chosen[ok]] = new[ok]
    acc.init_owner_until[chosen[ok]] = day[ok] - 1


# --- ids and names ------------------------------------------------------------------------------
def account_ids(accounts: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("ACC", np.asarray(accounts) + 1, 6, null_mask)


def lead_ids(leads: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("L", np.asarray(leads) + 1, 7, null_mask)


def contact_ids(contacts: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return out.ids("CT", np.asarray(contacts) + 1, 7, null_mask)


def company_names(city, brand, industry, fragment, suffix) -> pa.Array:
    fragments = [f for _, frags in INDUSTRIES for f in frags]
    first_fragment = np.cumsum([0] + [len(f) for _, f in INDUSTRIES])[:-1]
    return out.join(
        out.pick(CITIES, city),
        out.pick(BRAND_WORDS, brand),
        out.pick(fragments, first_fragment[industry] + fragment),
        out.pick(COMPANY_SUFFIXES, suffix),
    )


def accounts_table(acc: Accounts, rows: slice) -> out.Table:
    """One row per account; an account whose owner left (its accounts went to a successor) has
    its owner history: the first owner from the account's creation (valid_from), then the
    successor from the day after the first owner's last day."""
    changed = acc.init_owner[rows] != acc.owner[rows]
    row_of = np.repeat(np.arange(len(changed)), 1 + changed)  # the first of a pair: the first owner
    first_owner = changed[row_of] & np.r_[True, row_of[1:] != row_of[:-1]]

    def at(column: np.ndarray) -> np.ndarray:  # each account's value on its rows
        return column[rows][row_of]

    idx = np.arange(acc.n)[rows][row_of]
    source = at(acc.lead_source)
    valid_from = np.where(first_owner, at(acc.created_ts) // SECONDS_PER_DAY, at(acc.init_owner_until) + 1)
    return {
        "account_id": account_ids(idx),
        "account_name": company_names(
            at(acc.city), at(acc.name_brand), at(acc.industry), at(acc.name_fragment), at(acc.name_suffix)
        ),
        "industry": out.pick([i for i, _ in INDUSTRIES], at(acc.industry)),
        "region": out.pick([r for r, _ in REGIONS], _CITY_REGION[at(acc.city)]),
        "city": out.pick(CITIES, at(acc.city)),
        "owner_rep_id": rep_ids(np.where(first_owner, at(acc.init_owner), at(acc.owner))),
        "created_at": out.timestamps(at(acc.created_ts)),
        "lead_source": out.pick(LEAD_SOURCES, np.maximum(source, 0), null_mask=source < 0),
        "valid_from": out.dates(np.where(changed[row_of], valid_from, 0), null_mask=~changed[row_of]),
    }


def leads_table(
    leads: Leads, accounts: Accounts, lead_opportunity: np.ndarray, rows: slice, opportunity_ids
) -> out.Table:
    """lead_opportunity: the opportunity each converted lead became (-1 = none)."""
    idx = np.arange(leads.n)[rows]
    owner, qualified, converted = leads.owner[rows], leads.qualified_ts[rows], leads.converted_ts[rows]
    account, opportunity = leads.account[rows], lead_opportunity[rows]
    suffix = np.where(account >= 0, accounts.name_suffix[np.maximum(account, 0)], 0)
    surname_py = [p for _, p in SURNAMES]
    given_py = [p for _, p in GIVEN_NAMES]
    mail_hosts = ("163.com", "qq.com", "126.com", "sina.com", "outlook.com")
    return {
        "lead_id": lead_ids(idx),
        "created_at": out.timestamps(leads.created_ts[rows]),
        "lead_source": out.pick(LEAD_SOURCES, leads.source[rows]),
        "owner_rep_id": rep_ids(np.maximum(owner, 0), null_mask=owner < 0),
        "status": out.pick(LEAD_STATUSES, leads.status[rows]),
        "qualified_at": out.timestamps(np.maximum(qualified, 0), null_mask=qualified < 0),
        "converted_at": out.timestamps(np.maximum(converted, 0), null_mask=converted < 0),
        "converted_account_id": account_ids(np.maximum(account, 0), null_mask=account < 0),
        "converted_opportunity_id": opportunity_ids(np.maximum(opportunity, 0), null_mask=opportunity < 0),
        "company_name": company_names(
            leads.company_city[rows],
            leads.company_brand[rows],
            leads.company_industry[rows],
            leads.company_fragment[rows],
            suffix,
        ),
        "email": out.join(
            out.pick(given_py, leads.given[rows]),
            out.pick(surname_py, leads.surname[rows]),
            out.integers(idx % 1000),
            "@",
            out.pick(mail_hosts, idx % len(mail_hosts)),
        ),
    }


# --- contacts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contacts:
    account: np.ndarray  # sorted by account
    created_ts: np.ndarray
    surname: np.ndarray
    given: np.ndarray
    title: np.ndarray
    phone: np.ndarray
    of_account: Groups  # picks a random contact of an account (every account has at least one)

    @property
    def n(self) -> int:
        return len(self.account)


def build_contacts(period: Period, accounts: Accounts, seed: int) -> Contacts:
    rng = rng_for(seed, "contacts")
    per_account = 1 + rng.binomial(3, 0.45, accounts.n)
    account = np.repeat(np.arange(accounts.n, dtype=np.int32), per_account)
    n = len(account)
    created = accounts.created_ts[account] + rng.integers(0, 30 * SECONDS_PER_DAY, n)
    created = np.minimum(created, np.maximum(accounts.created_ts[account], period.end_ts - 1))
    return Contacts(
        account=account,
        created_ts=created,
        surname=rng.integers(0, len(SURNAMES), n, dtype=np.int8),
        given=rng.integers(0, len(GIVEN_NAMES), n, dtype=np.int8),
        title=rng.integers(0, len(CONTACT_TITLES), n, dtype=np.int8),
        phone=rng.integers(0, 10**8, n) + rng.choice(np.array([130, 135, 138, 150, 158, 186, 189]), n) * 10**8,
        of_account=Groups(account, np.arange(n), accounts.n),
    )


def contacts_table(contacts: Contacts, rows: slice) -> out.Table:
    idx = np.arange(contacts.n)[rows]
    surname, given = contacts.surname[rows], contacts.given[rows]
    surnames, surname_py = [s for s, _ in SURNAMES], [p for _, p in SURNAMES]
    given_names, given_py = [g for g, _ in GIVEN_NAMES], [p for _, p in GIVEN_NAMES]
    return {
        "contact_id": contact_ids(idx),
        "account_id": account_ids(contacts.account[rows]),
        "full_name": out.join(out.pick(surnames, surname), out.pick(given_names, given)),
        "email": out.join(
            out.pick(given_py, given),
            ".",
            out.pick(surname_py, surname),
            "@",
            out.ids("acc", contacts.account[rows] + 1, 6),
            ".com.cn",
        ),
        "phone": out.integers(contacts.phone[rows]),
        "title": out.pick(CONTACT_TITLES, contacts.title[rows]),
        "created_at": out.timestamps(contacts.created_ts[rows]),
    }
