"""A simulated tenant whose demand is real sales (`product -> date -> quantity`, as `parse_sales_csv` gives).

Pure: no I/O, no clock. The master data (ingredients, suppliers, policy) is a synthetic tenant of
the profile; the assortment is the file's products.
"""

import math
from collections.abc import Mapping
from datetime import date, timedelta

from contracts.planning import Calendar, Capacity, Product, Recipe, SalesHistory
from lab.simulation.truth import SIMULATED_TENANT_ID, Truth
from lab.synthetic import (
    CAPACITY_HEADROOM,
    Profile,
    busiest_weekday_oven_minutes,
    generate_tenant,
    product_with_recipe,
    with_dough_component,
)

# First match wins, so "seasonal_bread" is seasonal and "Hot Cross Bun" is not a roll.
_FAMILY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("seasonal", ("seasonal", "stollen", "gingerbread", "hot cross", "christmas", "easter")),
    ("cake", ("cake", "pie", "tart", "torte")),
    ("cookies", ("cookie", "biscuit", "confection", "florentine")),
    ("pastry", ("croissant", "pastry", "danish", "turnover", "pain au", "cinnamon")),
    ("rolls", ("roll", "pretzel", "bun", "bagel")),
)
DEFAULT_FAMILY = "bread"


def guess_family(name: str) -> str:
    """The synthetic family a product name suggests (by keyword), `DEFAULT_FAMILY` if none."""
    lowered = name.lower()
    for family, keywords in _FAMILY_KEYWORDS:
        if any(keyword in lowered for keyword in keywords):
            return family
    return DEFAULT_FAMILY


def csv_truth(demand: Mapping[str, Mapping[date, float]], *, profile: Profile, seed: int, days: int) -> Truth:
    """The last `days` days of `demand` are simulated, the days before are known history.

    A file product whose name is a product id or name of the profile's tenant keeps that product
    and recipe; any other gets a generated recipe of the family its name suggests. Profile
    products not in the file are left out. A day on which no product has a row is closed; a
    product without a row on an open day sold 0. Quantities are rounded to whole pieces (half up).

    Raises `ValueError` when `demand` has no rows or `days` leaves no day of known history.
    """
    dates = sorted({day for by_day in demand.values() for day in by_day})
    if not dates:
        raise ValueError("demand has no rows; give a sales file with at least two days")
    first, last = dates[0], dates[-1]
    span = (last - first).days + 1
    if days >= span:
        raise ValueError(
            f"demand covers {span} days ({first} to {last}); days must be at most {span - 1} "
            "so that at least one day is known history"
        )
    base = generate_tenant(
        SIMULATED_TENANT_ID, profile=profile, seed=seed, today=last + timedelta(days=1), history_days=span
    )
    known: dict[str, tuple[Product, Recipe]] = {}
    for product, recipe in zip(base.products, base.recipes, strict=True):
        known[product.product_id] = known[product.name] = (product, recipe)
    products, recipes, units = [], [], {}
    open_dates = set(dates)
    for name in sorted(demand):
        product, recipe = known.get(name) or product_with_recipe(
            name, name, guess_family(name), base.ingredients, seed=seed
        )
        products.append(product.model_copy(update={"finished_stock_units": 0}))
        recipes.append(recipe)
        by_day = demand[name]
        units[product.product_id] = tuple(
            _whole(by_day.get(day, 0.0)) if day in open_dates else None
            for day in (first + timedelta(days=n) for n in range(span))
        )
    final_recipes, components = with_dough_component(recipes, products, base.ingredients)
    calendar = Calendar(
        closed_dates=tuple(
            first + timedelta(days=n) for n in range(span) if first + timedelta(days=n) not in open_dates
        ),
        holidays=base.calendar.holidays,
    )
    sales = [SalesHistory(product_id=p, start_date=first, daily_units=u) for p, u in units.items()]
    return Truth(
        tenant_id=base.tenant_id,
        products=tuple(products),
        recipes=final_recipes,
        ingredients=base.ingredients,
        suppliers=base.suppliers,
        calendar=calendar,
        components=components,
        capacity=Capacity(
            oven_minutes_per_day=round(CAPACITY_HEADROOM * busiest_weekday_oven_minutes(final_recipes, sales))
        ),
        policy=base.policy,
        history_start=first,
        start=last - timedelta(days=days - 1),
        days=days,
        demand=units,
    )


def _whole(quantity: float) -> int:
    return max(0, math.floor(quantity + 0.5))
