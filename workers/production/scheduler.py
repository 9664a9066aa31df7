"""Production schedule: newsvendor batches per product and open day, fitted to capacity, and their ingredients.

Pure: no I/O, no clock. "Today" is the `business_date` parameter; ids are uuid5 of the saga, so the
same input always gives the same plan, byte for byte (outputs sorted, floats rounded).

The steps, each in its own module:
- `newsvendor`: per forecast line, the quantity balancing lost sales against waste;
- `targets`: netting finished stock and rounding to whole recipe batches (what each product-day wants);
- `capacity`: cutting batches that do not fit the daily oven and mixer minutes, by a fixed priority;
- `explosion`: the components (dough, levain) behind the batches, made days ahead;
- `requirements`: the ingredients per day, with the sd demand uncertainty implies.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from contracts.errors import PlanningError
from contracts.messages import ScheduleProduction
from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    Fact,
    ForecastLine,
    IngredientRequirement,
    Product,
    ProductionBatch,
    Reasoning,
    Recipe,
)
from workers.production.capacity import BatchRequest, CapacityCut, allocate
from workers.production.explosion import ComponentBatch, ComponentBook, ComponentIndex
from workers.production.requirements import BakedDay, ingredient_requirements
from workers.production.targets import DayTarget, day_targets, margin_per_oven_minute

BATCH_RULE = "newsvendor-net-of-stock"


@dataclass(frozen=True)
class ProductionPlan:
    """Batches sorted by (day, product_id); requirements sorted by (day, ingredient_id).

    `component_batches` (sorted by (day, component_id)) are the intermediates to make, on or after
    the business date; `capacity_cuts` (sorted by (day, product_id)) lists every product-day that got
    fewer batches than it wanted — including those cut to nothing, which have no batch to explain it.
    """

    batches: tuple[ProductionBatch, ...]
    requirements: tuple[IngredientRequirement, ...]
    component_batches: tuple[ComponentBatch, ...] = ()
    capacity_cuts: tuple[CapacityCut, ...] = ()


def schedule_for_command(command: ScheduleProduction) -> ProductionPlan:
    """The production plan for one `ScheduleProduction`, exactly as the worker makes it (the offline
    chain and replay call this too)."""
    assert command.saga_id is not None, "step commands always carry their saga"
    return schedule_production(
        command.saga_id,
        command.products,
        command.recipes,
        command.forecast,
        command.calendar,
        business_date=command.business_date,
        components=command.components,
        capacity=command.capacity,
    )


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
    """Plan the batches (pieces) to bake each open day, the components behind them and their ingredients.

    Per forecast line on an open day (closed days are ignored and consume no stock), demand is
    normal with mean `units` and sd `(p90 - p10) / (2 · 1.2816)`, or `sqrt(units)` when p10 or p90 is
    missing. The target is the newsvendor quantity at the product's critical ratio
    `(unit_price - unit_cost) / (unit_price - salvage_value)`, rounded up to whole pieces.
    `finished_stock_units` fills the targets of the earliest days first, but only days before
    `business_date + shelf_life_days`; what it leaves is baked in whole batches of
    `batch_yield_units`, the surplus of the last batch not carried to later days. Capacity then cuts
    batches by the priority documented in `capacity`; components and requirements follow the
    granted batches (see `explosion` and `requirements`). `batch_id` is
    `uuid5(saga_id, "batch:{product_id}:{day}")`; each batch carries its numbers in `reasoning`.

    Raises `PlanningError` if a forecast line names a product not in `products`, a product has two
    forecast lines for one day, a product has two recipes, a product with a forecast above 0 has no
    recipe, a planned product's money fields give no critical ratio in (0, 1), a line's p90 is
    below its p10, or components are duplicated, unknown or cyclic.
    """
    index = ComponentIndex(saga_id, components, recipes)
    products_by_id = {product.product_id: product for product in products}
    recipes_by_product = _recipes_by_product(saga_id, recipes)
    lines_by_product = _open_lines_by_product(saga_id, forecast, calendar, products_by_id)

    targets: dict[tuple[str, date], DayTarget] = {}
    requests: list[BatchRequest] = []
    for product_id, lines in sorted(lines_by_product.items()):
        recipe = recipes_by_product.get(product_id)
        if recipe is None:
            if any(line.units > 0 for line in lines):
                raise PlanningError(
                    f"saga {saga_id}: product {product_id!r} has a forecast above 0 but no recipe; "
                    "add a recipe for it (or remove the product from the assortment)"
                )
            continue
        product = products_by_id[product_id]
        margin = margin_per_oven_minute(product, recipe)
        for target in day_targets(saga_id, product, recipe, lines, business_date):
            targets[(product_id, target.line.day)] = target
            if target.wanted_batches > 0:
                requests.append(
                    BatchRequest(
                        product_id=product_id,
                        day=target.line.day,
                        recipe=recipe,
                        base_batches=target.base_batches,
                        wanted_batches=target.wanted_batches,
                        margin_per_oven_minute=math.inf if margin is None else margin,
                    )
                )

    book = ComponentBook(index, business_date)
    allocation = allocate(requests, capacity, book)
    granted = sorted(allocation.granted.items(), key=lambda item: (item[0][1], item[0][0]))
    batches = tuple(
        _batch(
            saga_id,
            products_by_id[product_id],
            recipes_by_product[product_id],
            targets[(product_id, day)],
            count,
            allocation.cuts.get((product_id, day)),
        )
        for (product_id, day), count in granted
    )
    component_batches = book.batches()
    baked = [
        BakedDay(
            product_id=product_id,
            day=day,
            batches=count,
            expected_pieces=_expected_pieces(targets[(product_id, day)], count, recipes_by_product[product_id]),
            demand_sd=targets[(product_id, day)].sd,
            sd_known=targets[(product_id, day)].sd_known,
        )
        for (product_id, day), count in granted
    ]
    requirements = ingredient_requirements(
        baked, recipes_by_product, index, component_batches, business_date=business_date
    )
    return ProductionPlan(
        batches=batches,
        requirements=requirements,
        component_batches=component_batches,
        capacity_cuts=tuple(sorted(allocation.cuts.values(), key=lambda cut: (cut.day, cut.product_id))),
    )


def _recipes_by_product(saga_id: UUID, recipes: Sequence[Recipe]) -> dict[str, Recipe]:
    by_product: dict[str, Recipe] = {}
    for recipe in recipes:
        if recipe.product_id in by_product:
            raise PlanningError(f"saga {saga_id}: product {recipe.product_id!r} has two recipes; keep one")
        by_product[recipe.product_id] = recipe
    return by_product


def _open_lines_by_product(
    saga_id: UUID,
    forecast: Sequence[ForecastLine],
    calendar: Calendar,
    products_by_id: dict[str, Product],
) -> dict[str, list[ForecastLine]]:
    """product_id → its forecast lines on open days; each line must name a known product, once a day."""
    lines: dict[str, list[ForecastLine]] = {}
    seen: set[tuple[str, date]] = set()
    open_by_day: dict[date, bool] = {}  # every product shares the days: ask the calendar once a day
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
        product_lines = lines.setdefault(line.product_id, [])
        is_open = open_by_day.get(line.day)
        if is_open is None:
            is_open = open_by_day[line.day] = calendar.is_open(line.day)
        if is_open:
            product_lines.append(line)
    return lines


def _expected_pieces(target: DayTarget, granted_batches: int, recipe: Recipe) -> float:
    """Pieces at the forecast mean net of the stock used, at most what the granted batches make."""
    return min(max(0.0, target.line.units - target.stock_used), granted_batches * recipe.batch_yield_units)


def batch_id(saga_id: UUID, product_id: str, day: date) -> str:
    """`str(uuid5(saga_id, f"batch:{product_id}:{day.isoformat()}"))`.

    The same bits as `uuid.uuid5` (SHA-1 of namespace + name, version 5, RFC 4122 variant), built
    without `UUID`'s per-call checks: a large tenant has thousands of batches and uuid5 was a fifth
    of the scheduler's time. A unit test holds it equal to `uuid5`.
    """
    name = f"batch:{product_id}:{day.isoformat()}".encode()
    raw = bytearray(hashlib.sha1(saga_id.bytes + name).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _batch(
    saga_id: UUID,
    product: Product,
    recipe: Recipe,
    target: DayTarget,
    count: int,
    cut: CapacityCut | None,
) -> ProductionBatch:
    """One product-day's batch; `reasoning.facts` carries the numbers, capacity facts only when cut."""
    line = target.line
    facts: dict[str, Fact] = {
        "forecast_mean": round(line.units, 3),
        "forecast_sd": round(target.sd, 3),
        "sd_source": "quantiles" if target.sd_from_quantiles else "poisson",
        "critical_ratio": round(target.ratio, 4),
        "newsvendor_units": round(target.newsvendor_units, 3),
        "target_units": target.target_units,
        "stock_used": target.stock_used,
        "net_units": target.net_units,
        "batch_yield": recipe.batch_yield_units,
        "batches_wanted": target.wanted_batches,
        "batches": count,
    }
    if cut is not None:
        margin = margin_per_oven_minute(product, recipe)
        facts["batches_base"] = target.base_batches
        facts["capacity_cut"] = target.wanted_batches - count
        facts["capacity_binding"] = cut.binding
        facts["margin_per_oven_minute"] = None if margin is None else round(margin, 4)
    reason = (
        f"newsvendor {target.target_units} (mean {line.units:g}, CR {target.ratio:.2f})"
        f" − stock {target.stock_used} = {target.net_units} → {count} × {recipe.batch_yield_units}"
    )
    if cut is not None:
        reason += f", {cut.binding} cut {target.wanted_batches - count} of {target.wanted_batches}"
    return ProductionBatch(
        batch_id=batch_id(saga_id, product.product_id, line.day),
        product_id=product.product_id,
        day=line.day,
        batches=count,
        units=count * recipe.batch_yield_units,
        oven_minutes=count * recipe.oven_minutes_per_batch,
        reason=reason,
        reasoning=Reasoning(rule=BATCH_RULE, facts=facts),
    )
