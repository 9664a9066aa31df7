"""Synthetic tenants put together: the profiles, `TenantData` and `generate_tenant`.

Pure: no I/O and no clock. The same `(tenant_id, profile, seed, today)` always gives the same
`TenantData`; the random stream is derived from both `seed` and `tenant_id`, so tenants generated
with one seed still differ. Quantities are in the ingredient's unit, money in the tenant's currency.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    Ingredient,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    Product,
    Recipe,
    SalesHistory,
    StockLot,
    Supplier,
)
from lab.catalogue import NAME_PARTS, TIMEZONES, WEEKDAY_FACTORS
from lab.synthetic.assortment import draw_assortment, draw_ingredients, with_dough_component, with_salvage
from lab.synthetic.sales import busiest_weekday_oven_minutes, sales_history
from lab.synthetic.supply import draw_stock_lots, draw_suppliers, with_supplier_terms

Profile = Literal["tiny", "small", "standard", "large"]
# Ovens are sized for the busiest day of the week, with room for the newsvendor margin and whole
# batches; capacity binds on peaks beyond it (holiday eves, seasonal products in season).
CAPACITY_HEADROOM = 1.3


@dataclass(frozen=True)
class ProfileSize:
    products: int
    ingredients: int
    suppliers: int
    history_days: int


PROFILES: dict[str, ProfileSize] = {
    # planning costs next to nothing: benchmarks of the orchestration overhead use it
    "tiny": ProfileSize(products=1, ingredients=3, suppliers=1, history_days=28),
    "small": ProfileSize(products=8, ingredients=30, suppliers=4, history_days=182),
    "standard": ProfileSize(products=40, ingredients=150, suppliers=12, history_days=365),
    "large": ProfileSize(products=300, ingredients=1000, suppliers=20, history_days=730),
}


@dataclass(frozen=True)
class TenantData:
    tenant_id: str
    name: str
    timezone: str
    products: tuple[Product, ...]
    recipes: tuple[Recipe, ...]
    ingredients: tuple[Ingredient, ...]
    stock_lots: tuple[StockLot, ...]
    suppliers: tuple[Supplier, ...]
    sales: tuple[SalesHistory, ...]
    calendar: Calendar
    components: tuple[Component, ...] = ()
    capacity: Capacity = Capacity()
    open_purchase_orders: tuple[OpenPurchaseOrder, ...] = ()
    policy: PlanningPolicy = PlanningPolicy()

    def planning_snapshot(self, *, business_date: date, horizon_days: int) -> PlanningSnapshot:
        """The snapshot a saga would take of this tenant (no regressors: the generator has none)."""
        return PlanningSnapshot(
            tenant_id=self.tenant_id,
            business_date=business_date,
            horizon_days=horizon_days,
            products=self.products,
            recipes=self.recipes,
            ingredients=self.ingredients,
            stock_lots=self.stock_lots,
            suppliers=self.suppliers,
            sales=self.sales,
            calendar=self.calendar,
            components=self.components,
            capacity=self.capacity,
            open_purchase_orders=self.open_purchase_orders,
            policy=self.policy,
        )


# Public holidays on which the bakeries stay open (the closed ones are in `closed_dates`).
_OPEN_HOLIDAYS = ((1, 6), (5, 1), (8, 15), (10, 3), (11, 1))


def _terms_rng(seed: int, tenant_id: str) -> random.Random:
    """The stream of every attribute added after the first release, so older attributes stay identical."""
    return random.Random(f"{seed}:{tenant_id}:terms")


def generate_tenant(
    tenant_id: str,
    *,
    profile: Profile,
    seed: int,
    today: date,
    components: bool = False,
    history_days: int | None = None,
) -> TenantData:
    """A realistic synthetic tenant whose sales history ends yesterday (`today - 1`).

    `history_days` overrides the profile's history length (the simulator needs history before the
    simulated period); `components=True` moves part of the bread recipes into a shared dough base
    made a day ahead (see `with_dough_component`). Supplier terms, salvage values, open holidays and
    the capacity come from a separate random stream, so the other attributes are the same as
    without them. Raises `ValueError` for an unknown profile or `history_days` < 1.
    """
    if profile not in PROFILES:
        raise ValueError(
            f"unknown synthetic profile {profile!r} for tenant {tenant_id!r}; use one of {sorted(PROFILES)}"
        )
    if history_days is not None and history_days < 1:
        raise ValueError(f"history_days must be at least 1 for tenant {tenant_id!r}, got {history_days}")
    size = PROFILES[profile]
    total_days = size.history_days if history_days is None else history_days
    rng = random.Random(f"{seed}:{tenant_id}")
    calendar_weekdays = (6,) if rng.random() < 0.4 else ()
    start = today - timedelta(days=total_days)
    # Holidays cover the history and the planning horizon (at most 60 days, so into next year).
    closed_dates = tuple(
        date(year, month, day)
        for year in range(start.year, today.year + 2)
        for month, day in ((1, 1), (12, 25), (12, 26))
    )
    calendar = Calendar(closed_weekdays=calendar_weekdays, closed_dates=closed_dates)
    weekday = tuple(f * rng.uniform(0.95, 1.05) for f in WEEKDAY_FACTORS)

    ingredients = draw_ingredients(rng, size.ingredients)
    products, recipes, demands = draw_assortment(rng, size.products, ingredients, weekday)
    suppliers = draw_suppliers(rng, size.suppliers, ingredients)
    stock_lots = draw_stock_lots(rng, ingredients, recipes, demands, today)

    sales = sales_history(rng, products, demands, calendar, start=start, total_days=total_days, today=today)
    name = f"{rng.choice(NAME_PARTS[0])} {rng.choice(NAME_PARTS[1])}"
    timezone = rng.choice(TIMEZONES)

    terms = _terms_rng(seed, tenant_id)
    suppliers = with_supplier_terms(terms, suppliers, ingredients)
    products = [with_salvage(terms, product) for product in products]
    holidays = sorted(terms.sample(_OPEN_HOLIDAYS, 3))
    calendar = calendar.model_copy(
        update={
            "holidays": tuple(
                date(year, month, day) for year in range(start.year, today.year + 2) for month, day in holidays
            )
        }
    )
    final_recipes, dough = with_dough_component(recipes, products, ingredients) if components else (tuple(recipes), ())
    oven_minutes = busiest_weekday_oven_minutes(final_recipes, sales)
    return TenantData(
        tenant_id=tenant_id,
        name=name,
        timezone=timezone,
        products=tuple(products),
        recipes=final_recipes,
        ingredients=tuple(ingredients),
        stock_lots=tuple(stock_lots),
        suppliers=tuple(suppliers),
        sales=tuple(sales),
        calendar=calendar,
        components=dough,
        capacity=Capacity(oven_minutes_per_day=round(CAPACITY_HEADROOM * oven_minutes)),
    )
