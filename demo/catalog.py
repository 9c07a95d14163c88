"""The product catalogue: list prices, costs, typical quantities and popularity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from demo import output as out
from demo.period import rng_for
from demo.vocab import PRODUCT_CATEGORIES, PRODUCT_SERIES, REPORTING_CURRENCY

PRODUCTS_PER_SCALE = 40
MIN_PRODUCTS = 12
UNCOSTED_EVERY = 12  # one product in 12 has no unit cost on file yet: revenue without a margin


@dataclass(frozen=True)
class Catalog:
    category: np.ndarray  # index into PRODUCT_CATEGORIES
    series: np.ndarray
    model_number: np.ndarray
    list_price_cents: np.ndarray
    unit_cost_cents: np.ndarray
    mean_quantity: np.ndarray
    popularity_cdf: np.ndarray  # cumulative sales share, for vectorised product picks

    @property
    def n(self) -> int:
        return len(self.category)

    def pick(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.searchsorted(self.popularity_cdf, rng.random(n), side="right").clip(0, self.n - 1)


def build_catalog(scale: float, seed: int) -> Catalog:
    rng = rng_for(seed, "catalog")
    n = max(MIN_PRODUCTS, round(PRODUCTS_PER_SCALE * scale))
    n_categories = len(PRODUCT_CATEGORIES)
    # every category is on offer, the rest of the range is drawn at random
    category = np.concatenate([np.arange(n_categories), rng.integers(0, n_categories, n - n_categories)])
    low = np.array([c[1] for c in PRODUCT_CATEGORIES])[category]
    high = np.array([c[2] for c in PRODUCT_CATEGORIES])[category]
    price = np.exp(rng.uniform(np.log(low), np.log(high)))
    # shelf prices: 4,999.00 above 100 CNY, 29.90 below
    list_cents = np.where(price >= 100, (np.round(price / 10) * 10 - 1) * 100, np.round(price) * 100 - 10)
    cost_low = np.array([c[4] for c in PRODUCT_CATEGORIES])[category]
    cost_high = np.array([c[5] for c in PRODUCT_CATEGORIES])[category]
    cost_cents = np.round(list_cents * rng.uniform(cost_low, cost_high))
    # Zipf-like popularity in a random order (a few best sellers, a long tail); cheap items sell more often
    weights = 1.0 / (np.arange(n) + 4.0) ** 0.9
    weights = weights[rng.permutation(n)] / np.sqrt(list_cents / 100.0)
    return Catalog(
        category=category,
        series=rng.integers(0, len(PRODUCT_SERIES), n),
        model_number=rng.integers(100, 1000, n),
        list_price_cents=list_cents.astype(np.int64),
        unit_cost_cents=cost_cents.astype(np.int64),
        mean_quantity=np.array([c[3] for c in PRODUCT_CATEGORIES])[category],
        popularity_cdf=np.cumsum(weights) / weights.sum(),
    )


def product_ids(products: np.ndarray) -> pa.Array:
    return out.ids("P", np.asarray(products) + 1, 5)


def products_table(catalog: Catalog) -> out.Table:
    products = np.arange(catalog.n)
    categories = [c[0] for c in PRODUCT_CATEGORIES]
    model_letters = "ACEGKMSTVX"
    return {
        "product_id": product_ids(products),
        "product_name": out.join(
            out.pick(PRODUCT_SERIES, catalog.series),
            out.pick(categories, catalog.category),
            " ",
            out.pick(list(model_letters), products % len(model_letters)),
            out.integers(catalog.model_number),
        ),
        "category": out.pick(categories, catalog.category),
        "list_price": out.money(catalog.list_price_cents),
        "unit_cost": out.money(catalog.unit_cost_cents, null_mask=products % UNCOSTED_EVERY == UNCOSTED_EVERY - 1),
        "currency": out.constant(REPORTING_CURRENCY, catalog.n),
    }
