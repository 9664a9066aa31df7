"""Production schedule: batches covering the forecast net of finished stock, and their ingredients.

Pure: no I/O, no clock. "Today" is the `business_date` parameter; ids are uuid5 of the saga, so the
same input always gives the same plan.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid5

from bakeplan.errors import PlanningError
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ForecastLine,
    IngredientRequirement,
    Product,
    ProductionBatch,
    Recipe,
)

# Forecast units are floats; without this 12.000000001 would need a 13th piece.
UNITS_EPSILON = 1e-9


@dataclass(frozen=True)
class ProductionPlan:
    """Batches sorted by (day, product_id); requirements sorted by (day, ingredient_id)."""

    batches: tuple[ProductionBatch, ...]
    requirements: tuple[IngredientRequirement, ...]


def schedule_production(
    saga_id: UUID,
    products: Sequence[Product],
    recipes: Sequence[Recipe],
    forecast: Sequence[ForecastLine],
    calendar: Calendar,
    *,
    business_date: date,
    components: Sequence[Component] = (),
    capacity: Capacity = Capacity(),
) -> ProductionPlan:
    """Plan the batches (pieces) to bake each open day and the ingredients (own unit) they need.

    Per product, the forecast days are walked in date order. Demand of a day is the forecast
    rounded up to whole pieces. `finished_stock_units` covers the earliest days first, but only days
    before `business_date + shelf_life_days` (the stock is assumed baked no later than today). What
    stock leaves uncovered is the day's net demand, baked in whole batches of `batch_yield_units`;
    the surplus of the last batch is not carried to later days. Closed days get no batch and do
    not consume stock. `batch_id` is `uuid5(saga_id, "batch:{product_id}:{day}")`.

    Each batch needs `quantity_per_batch × batches` of each recipe line's ingredient on its day;
    these are summed per (ingredient, day) and rounded to 3 decimals (a sum that rounds to 0 is
    dropped).

    Raises `PlanningError` if a forecast line names a product not in `products`, if a product
    appears twice in the forecast for one day, if a product has two recipes, or if a product with
    a forecast above 0 has no recipe.
    """
    products_by_id = {product.product_id: product for product in products}
    recipes_by_product = _recipes_by_product(saga_id, recipes)
    demand_by_product = _open_demand_by_product(saga_id, forecast, calendar, products_by_id)

    batches: list[ProductionBatch] = []
    for product_id, demand in sorted(demand_by_product.items()):
        if not any(units > 0 for units in demand.values()):
            continue
        recipe = recipes_by_product.get(product_id)
        if recipe is None:
            raise PlanningError(
                f"saga {saga_id}: product {product_id!r} has a forecast above 0 but no recipe; "
                "add a recipe for it (or remove the product from the assortment)"
            )
        batches.extend(_batches_for_product(saga_id, products_by_id[product_id], recipe, demand, business_date))
    batches.sort(key=lambda batch: (batch.day, batch.product_id))
    return ProductionPlan(batches=tuple(batches), requirements=_requirements(batches, recipes_by_product))


def _recipes_by_product(saga_id: UUID, recipes: Sequence[Recipe]) -> dict[str, Recipe]:
    by_product: dict[str, Recipe] = {}
    for recipe in recipes:
        if recipe.product_id in by_product:
            raise PlanningError(f"saga {saga_id}: product {recipe.product_id!r} has two recipes; keep one")
        by_product[recipe.product_id] = recipe
    return by_product


def _open_demand_by_product(
    saga_id: UUID,
    forecast: Sequence[ForecastLine],
    calendar: Calendar,
    products_by_id: dict[str, Product],
) -> dict[str, dict[date, float]]:
    """product_id → open day → forecast units; each line must name a known product, once a day."""
    demand: dict[str, dict[date, float]] = {}
    seen: set[tuple[str, date]] = set()
    for line in forecast:
        if line.product_id not in products_by_id:
            raise PlanningError(
                f"saga {saga_id}: forecast line for {line.day} names unknown product "
                f"{line.product_id!r}; add the product or drop its forecast"
            )
        if (line.product_id, line.day) in seen:
            raise PlanningError(
                f"saga {saga_id}: product {line.product_id!r} has two forecast lines for "
                f"{line.day}; the forecast must have one line per product and day"
            )
        seen.add((line.product_id, line.day))
        days = demand.setdefault(line.product_id, {})
        if calendar.is_open(line.day):
            days[line.day] = line.units
    return demand


def _batches_for_product(
    saga_id: UUID, product: Product, recipe: Recipe, demand: dict[date, float], business_date: date
) -> list[ProductionBatch]:
    batches: list[ProductionBatch] = []
    stock_units = product.finished_stock_units
    for day in sorted(demand):
        forecast_units = demand[day]
        demand_units = max(0, math.ceil(forecast_units - UNITS_EPSILON))
        sellable = (day - business_date).days < product.shelf_life_days
        stock_used = min(stock_units, demand_units) if sellable else 0
        stock_units -= stock_used
        net_units = demand_units - stock_used
        if net_units <= 0:
            continue
        batch_count = math.ceil(net_units / recipe.batch_yield_units)
        units = batch_count * recipe.batch_yield_units
        batches.append(
            ProductionBatch(
                batch_id=str(uuid5(saga_id, f"batch:{product.product_id}:{day.isoformat()}")),
                product_id=product.product_id,
                day=day,
                batches=batch_count,
                units=units,
                oven_minutes=batch_count * recipe.oven_minutes_per_batch,
                reason=(
                    f"forecast {forecast_units:g} − stock {stock_used} = {net_units}"
                    f" → {batch_count} × {recipe.batch_yield_units}"
                ),
            )
        )
    return batches


def _requirements(
    batches: Sequence[ProductionBatch], recipes_by_product: dict[str, Recipe]
) -> tuple[IngredientRequirement, ...]:
    needed: dict[tuple[date, str], float] = {}
    for batch in batches:
        for line in recipes_by_product[batch.product_id].lines:
            key = (batch.day, line.ingredient_id)
            needed[key] = needed.get(key, 0.0) + line.quantity_per_batch * batch.batches
    return tuple(
        IngredientRequirement(ingredient_id=ingredient_id, day=day, quantity=round(quantity, 3))
        for (day, ingredient_id), quantity in sorted(needed.items())
        if round(quantity, 3) > 0
    )
