"""What each product-day wants before capacity: the newsvendor target net of stock, in whole batches.

Pure: no I/O, no clock. Per forecast line on an open day, demand is normal with mean `units` and
the sd `newsvendor.demand_sd` gives; the target is the newsvendor quantity at the product's critical
ratio, rounded up to whole pieces (the smallest whole number of pieces reaching the ratio).
`finished_stock_units` fills the targets of the earliest days first, only days before
`business_date + shelf_life_days` (the stock is assumed baked no later than the business date);
what it leaves is baked in whole batches of `batch_yield_units`, the surplus of the last batch not
carried to later days.
"""

import math
from datetime import date
from typing import NamedTuple
from uuid import UUID

from contracts.errors import PlanningError
from contracts.planning import ForecastLine, Product, Recipe
from workers.production.newsvendor import critical_ratio, demand_sd, newsvendor_z

# Quantities are floats; without this 12.000000001 would need a 13th piece.
UNITS_EPSILON = 1e-9


class DayTarget(NamedTuple):
    """What one forecast line asks for, before capacity: pieces and whole batches."""

    line: ForecastLine
    sd: float
    sd_from_quantiles: bool
    ratio: float
    newsvendor_units: float
    target_units: int  # newsvendor quantity rounded up to whole pieces
    median_units: int  # p50 (units when p50 is missing) in whole pieces, at most target_units
    stock_used: int
    net_units: int
    base_batches: int  # batches to reach the median net of stock: secured first under capacity
    wanted_batches: int

    @property
    def sd_known(self) -> bool:
        """Whether the sd is the forecast's own (quantiles of a model that is not a cold start)."""
        return self.sd_from_quantiles and not self.line.model.startswith("cold-start")


def day_targets(
    saga_id: UUID, product: Product, recipe: Recipe, lines: list[ForecastLine], business_date: date
) -> list[DayTarget]:
    """The targets of one product's open-day `lines`, in date order, with stock netted earliest day first.

    Stock fills a day's newsvendor target (not just its mean): the pieces on the shelf take the
    place of pieces that would otherwise be baked for that day.
    """
    try:
        ratio = critical_ratio(price=product.unit_price, cost=product.unit_cost, salvage=product.salvage_value)
        z = newsvendor_z(price=product.unit_price, cost=product.unit_cost, salvage=product.salvage_value)
    except ValueError as error:
        raise PlanningError(
            f"saga {saga_id}: product {product.product_id!r} (unit_price, unit_cost, salvage_value): {error}"
        ) from error
    targets: list[DayTarget] = []
    stock_left = product.finished_stock_units
    yield_units = recipe.batch_yield_units
    for line in sorted(lines, key=lambda forecast_line: forecast_line.day):
        try:
            sd, from_quantiles = demand_sd(line.units, line.p10, line.p90)
        except ValueError as error:
            raise PlanningError(
                f"saga {saga_id}: forecast of product {line.product_id!r} for {line.day}: {error}"
            ) from error
        # `newsvendor_quantity`, with z worked out once per product instead of once per line
        quantity = max(0.0, line.units + z * sd)
        target_units = max(0, math.ceil(quantity - UNITS_EPSILON))
        median = line.p50 if line.p50 is not None else line.units
        median_units = min(target_units, max(0, math.ceil(median - UNITS_EPSILON)))
        sellable = (line.day - business_date).days < product.shelf_life_days
        stock_used = min(stock_left, target_units) if sellable else 0
        stock_left -= stock_used
        net_units = target_units - stock_used
        wanted = math.ceil(net_units / yield_units)
        targets.append(
            DayTarget(
                line=line,
                sd=sd,
                sd_from_quantiles=from_quantiles,
                ratio=ratio,
                newsvendor_units=quantity,
                target_units=target_units,
                median_units=median_units,
                stock_used=stock_used,
                net_units=net_units,
                base_batches=min(wanted, math.ceil(max(0, median_units - stock_used) / yield_units)),
                wanted_batches=wanted,
            )
        )
    return targets


def margin_per_oven_minute(product: Product, recipe: Recipe) -> float | None:
    """Contribution margin (money) of one batch per oven minute; None when the recipe needs no oven."""
    if recipe.oven_minutes_per_batch == 0:
        return None
    return (product.unit_price - product.unit_cost) * recipe.batch_yield_units / recipe.oven_minutes_per_batch
