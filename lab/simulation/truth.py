"""The simulated tenant and its true daily demand, known in full to the simulator and revealed day by day.

Pure: no I/O, no clock. Quantities are in the ingredient's unit, demand in product units (pieces).
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    PlanningPolicy,
    Product,
    Recipe,
    RecipeLine,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
)
from lab.synthetic import PROFILES, Profile, generate_tenant

USE_WINDOW_DAYS = 28
# Initial stock: this many days of use beyond the cheapest supplier's lead time (capped by shelf life).
INITIAL_COVER_DAYS = 7


@dataclass(frozen=True)
class Truth:
    """A tenant's master data plus its true demand per product and day, from `history_start` on.

    `demand[product_id][n]` is the demand of `history_start + n` (pieces, `None` on a closed day).
    The days before `start` are known history; `start`, …, `start + days - 1` are simulated.
    Products carry no finished stock (the simulation makes to demand). A supplier in
    `lead_time_bias_days` really needs that many days more than its items' master lead times say.
    """

    tenant_id: str
    products: tuple[Product, ...]
    recipes: tuple[Recipe, ...]
    ingredients: tuple[Ingredient, ...]
    suppliers: tuple[Supplier, ...]
    calendar: Calendar
    components: tuple[Component, ...]
    capacity: Capacity
    policy: PlanningPolicy
    history_start: date
    start: date
    days: int
    demand: Mapping[str, tuple[int | None, ...]]
    # supplier_id → days its true lead time is longer than its master data says (the learning test)
    lead_time_bias_days: Mapping[str, int] = field(default_factory=dict)
    use_per_unit: Mapping[str, Mapping[str, float]] = field(init=False)
    daily_use: npt.NDArray[np.float64] = field(init=False)  # day index x ingredient index

    def __post_init__(self) -> None:
        use = ingredient_use_per_unit(self.recipes, self.components)
        object.__setattr__(self, "use_per_unit", use)
        index = {ingredient.ingredient_id: n for n, ingredient in enumerate(self.ingredients)}
        per_unit = np.zeros((len(self.products), len(self.ingredients)))
        for row, product in enumerate(self.products):
            for ingredient_id, quantity in use.get(product.product_id, {}).items():
                per_unit[row, index[ingredient_id]] = quantity
        units = np.array(
            [[units or 0 for units in self.demand[p.product_id]] for p in self.products], dtype=np.float64
        ).reshape(len(self.products), -1)
        object.__setattr__(self, "daily_use", units.T @ per_unit)

    def day_index(self, day: date) -> int:
        return (day - self.history_start).days

    def sales_before(self, day: date) -> tuple[SalesHistory, ...]:
        """The sales history a planner sees on the morning of `day`: every day strictly before it."""
        end = self.day_index(day)
        return tuple(
            SalesHistory(
                product_id=p.product_id, start_date=self.history_start, daily_units=self.demand[p.product_id][:end]
            )
            for p in self.products
        )

    def ingredient_needs(self, first: date, days: int) -> dict[str, dict[date, float]]:
        """ingredient_id → day → what the true demand of `first`, …, `first + days - 1` needs (known days only)."""
        needs: dict[str, dict[date, float]] = {}
        begin = self.day_index(first)
        end = min(begin + days, len(self.daily_use))
        for offset in range(begin, end):
            day = self.history_start + timedelta(days=offset)
            for column in np.flatnonzero(self.daily_use[offset] > 0):
                ingredient_id = self.ingredients[column].ingredient_id
                needs.setdefault(ingredient_id, {})[day] = float(self.daily_use[offset, column])
        return needs


def ingredient_use_per_unit(recipes: Sequence[Recipe], components: Sequence[Component]) -> dict[str, dict[str, float]]:
    """product_id → ingredient_id → quantity one piece needs, through its recipe and (nested) components.

    Raises `ValueError` for a component that is unknown or contains itself.
    """
    by_id = {component.component_id: component for component in components}
    explosion: dict[str, dict[str, float]] = {}

    def explode(component_id: str, trail: tuple[str, ...]) -> dict[str, float]:
        if component_id in trail:
            raise ValueError(f"component {component_id!r} contains itself via {' → '.join(trail)}; break the cycle")
        if component_id not in by_id:
            raise ValueError(f"component {component_id!r} is used but not defined; add it to the components")
        if component_id not in explosion:
            component = by_id[component_id]
            inner = (*trail, component_id)
            explosion[component_id] = _per_unit(
                component.lines, component.components, component.batch_yield, lambda c: explode(c, inner)
            )
        return explosion[component_id]

    return {
        recipe.product_id: _per_unit(
            recipe.lines, recipe.components, recipe.batch_yield_units, lambda c: explode(c, ())
        )
        for recipe in recipes
    }


def _per_unit(
    lines: Sequence[RecipeLine],
    components: Sequence[ComponentLine],
    batch_yield: float,
    explode: Callable[[str], dict[str, float]],
) -> dict[str, float]:
    use: dict[str, float] = {}
    for line in lines:
        use[line.ingredient_id] = use.get(line.ingredient_id, 0.0) + line.quantity_per_batch / batch_yield
    for component_line in components:
        for ingredient_id, quantity in explode(component_line.component_id).items():
            share = component_line.quantity_per_batch / batch_yield
            use[ingredient_id] = use.get(ingredient_id, 0.0) + quantity * share
    return use


def cheapest_item(suppliers: Sequence[Supplier], ingredient_id: str) -> tuple[Supplier, SupplierItem] | None:
    """The lowest-priced offer (then shorter lead time, then supplier_id), or None if nobody offers it."""
    offers = [
        (item.unit_price, item.lead_time_days, supplier.supplier_id, supplier, item)
        for supplier in suppliers
        for item in supplier.items
        if item.ingredient_id == ingredient_id
    ]
    if not offers:
        return None
    best = min(offers, key=lambda offer: offer[:3])
    return best[3], best[4]


def initial_lots(truth: Truth, *, on: date | None = None) -> tuple[StockLot, ...]:
    """Stock on the morning of `on` (default `truth.start`): per used ingredient one fresh lot of mean
    daily use × cover days.

    Mean daily use is over the `USE_WINDOW_DAYS` days before `on`; the cover is the cheapest
    supplier's lead time + `INITIAL_COVER_DAYS`, capped at shelf life − 1 days. The lot expires
    `shelf_life_days` after `on` (never without a shelf life). A warm-up starts from it
    (`simulator.warm_world`).
    """
    first = truth.start if on is None else on
    end = truth.day_index(first)
    window = truth.daily_use[max(0, end - USE_WINDOW_DAYS) : end]
    mean_use = window.mean(axis=0) if len(window) else np.zeros(len(truth.ingredients))
    lots = []
    for column, ingredient in enumerate(truth.ingredients):
        offer = cheapest_item(truth.suppliers, ingredient.ingredient_id)
        if mean_use[column] <= 0 or offer is None:
            continue
        cover = offer[1].lead_time_days + INITIAL_COVER_DAYS
        life = ingredient.shelf_life_days
        if life is not None:
            cover = min(cover, max(1, life - 1))
        quantity = mean_use[column] * cover
        lots.append(
            StockLot(
                lot_id=f"initial:{ingredient.ingredient_id}",
                ingredient_id=ingredient.ingredient_id,
                quantity=float(math.ceil(quantity)) if ingredient.unit == "pcs" else round(float(quantity), 3),
                expires_on=None if life is None else first + timedelta(days=life),
            )
        )
    return tuple(lots)


SIMULATED_TENANT_ID = "simulated-bakery"


def synthetic_truth(*, profile: Profile, seed: int, days: int, start: date) -> Truth:
    """A synthetic tenant (with the dough component) whose known history is the profile's, then `days` days.

    The generator's history ends the day before `start + days`, so the simulated period is its tail.
    """
    known_days = PROFILES[profile].history_days
    data = generate_tenant(
        SIMULATED_TENANT_ID,
        profile=profile,
        seed=seed,
        today=start + timedelta(days=days),
        components=True,
        history_days=known_days + days,
    )
    return Truth(
        tenant_id=data.tenant_id,
        products=tuple(p.model_copy(update={"finished_stock_units": 0}) for p in data.products),
        recipes=data.recipes,
        ingredients=data.ingredients,
        suppliers=data.suppliers,
        calendar=data.calendar,
        components=data.components,
        capacity=data.capacity,
        policy=data.policy,
        history_start=start - timedelta(days=known_days),
        start=start,
        days=days,
        demand={history.product_id: history.daily_units for history in data.sales},
    )
