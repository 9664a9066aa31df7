"""The supply side of a synthetic tenant: suppliers with their items and terms, and the stock on hand.

Pure: the random streams are parameters. Terms (`with_supplier_terms`) are drawn from their own
stream, after the suppliers themselves, so that adding them left the older attributes as they were.
"""

import math
import random
from datetime import date, time, timedelta

from contracts.planning import Ingredient, PriceTier, Recipe, StockLot, Supplier, SupplierItem
from lab.catalogue import CATEGORIES, SUPPLIER_NAMES
from lab.synthetic.assortment import numbered_name
from lab.synthetic.sales import DayFeatures, ProductDemand

_FRESH_SUPPLIER_WEEKDAYS = (0, 1, 2, 3, 4, 5)


def draw_suppliers(rng: random.Random, count: int, ingredients: list[Ingredient]) -> list[Supplier]:
    """`count` suppliers `S001`, …, each ingredient offered by one to three of them, every supplier by at
    least one ingredient. Without terms: `with_supplier_terms` adds them."""
    items: list[list[SupplierItem]] = [[] for _ in range(count)]
    for index, ingredient in enumerate(ingredients):
        spec = CATEGORIES[ingredient.category]
        offered_by = min(count, rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0])
        # The first ingredients go round the suppliers so that every supplier offers something.
        primary = index if index < count else rng.randrange(count)
        others = rng.sample([s for s in range(count) if s != primary], offered_by - 1)
        base_price = rng.uniform(*spec.price_per_unit)
        for supplier in sorted([primary, *others]):
            pack_size = float(rng.choice(spec.pack_sizes))
            items[supplier].append(
                SupplierItem(
                    ingredient_id=ingredient.ingredient_id,
                    unit_price=round(base_price * rng.uniform(0.9, 1.15), 3),
                    lead_time_days=rng.randint(1, 2) if spec.fresh else rng.randint(2, 7),
                    moq=pack_size * rng.randint(0, 3),
                    pack_size=pack_size,
                )
            )
    seen: dict[str, int] = {}
    return [
        Supplier(
            supplier_id=f"S{n + 1:03d}",
            name=numbered_name(SUPPLIER_NAMES[n % len(SUPPLIER_NAMES)], seen),
            items=tuple(items[n]),
        )
        for n in range(count)
    ]


def with_supplier_terms(rng: random.Random, suppliers: list[Supplier], ingredients: list[Ingredient]) -> list[Supplier]:
    """Delivery weekdays, cut-off, order value and cost, reliability, and per item lead-time sd, tiers, max.

    On-time rate 0.85–0.99; lead_time_sd_days follows it (`delay_sd_days`). A supplier is fresh when
    at least a third of its items are of a fresh category: it delivers Monday to Saturday; a
    dry-goods supplier delivers on 2–3 fixed weekdays between Monday and Friday.
    """
    fresh_ids = {i.ingredient_id for i in ingredients if CATEGORIES[i.category].fresh}
    result = []
    for supplier in suppliers:
        fresh = 3 * sum(item.ingredient_id in fresh_ids for item in supplier.items) >= len(supplier.items)
        on_time_rate = round(rng.uniform(0.85, 0.99), 3)
        weekdays = _FRESH_SUPPLIER_WEEKDAYS if fresh else tuple(sorted(rng.sample(range(5), rng.randint(2, 3))))
        items = []
        for item in supplier.items:
            tiers: tuple[PriceTier, ...] = ()
            if rng.random() < 0.3:  # volume discounts from a few packs on
                first = max(item.moq, item.pack_size) * rng.randint(3, 6)
                tiers = (
                    PriceTier(min_quantity=first, unit_price=round(item.unit_price * rng.uniform(0.92, 0.97), 3)),
                    PriceTier(min_quantity=first * 3, unit_price=round(item.unit_price * rng.uniform(0.85, 0.9), 3)),
                )
            max_quantity = item.pack_size * 200 if rng.random() < 0.2 else None  # far above a fortnight's use
            items.append(
                item.model_copy(
                    update={
                        "lead_time_sd_days": round(delay_sd_days(on_time_rate) * rng.uniform(0.8, 1.2), 2),
                        "price_tiers": tiers,
                        "max_quantity": max_quantity,
                    }
                )
            )
        result.append(
            supplier.model_copy(
                update={
                    "items": tuple(items),
                    "delivery_weekdays": weekdays,
                    "order_cutoff": time(rng.randint(10, 18), 0),
                    "min_order_value": float(rng.choice((0, 50, 100, 150, 250))),
                    "order_cost": round(rng.uniform(15.0, 40.0), 2),
                    "on_time_rate": on_time_rate,
                    "quality_score": round(rng.uniform(0.7, 1.0), 2),
                }
            )
        )
    return result


def delay_sd_days(on_time_rate: float) -> float:
    """Standard deviation (days) of a delay that is 0 with probability `on_time_rate`, else 1, 2 or 3 days.

    Late deliveries are 1–3 days late (uniformly) in the simulation; the generated items'
    `lead_time_sd_days` are this ± 20 %, so the planners' safety stock sees the suppliers' real spread.
    """
    late = 1.0 - on_time_rate
    return math.sqrt(late * 14 / 3 - (late * 2) ** 2)  # E[D²] − E[D]², with E[D | late] = 2, E[D² | late] = 14/3


def draw_stock_lots(
    rng: random.Random,
    ingredients: list[Ingredient],
    recipes: list[Recipe],
    demands: list[ProductDemand],
    today: date,
) -> list[StockLot]:
    """One to three lots of every ingredient a recipe uses, together 1–6 days of its use at today's demand.

    `demands` pairs with `recipes` in order. An ingredient with a shelf life gets expiry dates from two
    days ago on (so some lots are already spoiled).
    """
    daily_use: dict[str, float] = {}
    today_only = DayFeatures.starting(today, 1, today=today)
    for recipe, demand in zip(recipes, demands, strict=True):
        # Out-of-season products still keep a little stock on hand.
        units_per_day = max(demand.means(today_only)[0], 0.1 * demand.base_units)
        for line in recipe.lines:
            use = line.quantity_per_batch * units_per_day / recipe.batch_yield_units
            daily_use[line.ingredient_id] = daily_use.get(line.ingredient_id, 0.0) + use
    lots: list[StockLot] = []
    for ingredient in ingredients:
        if ingredient.ingredient_id not in daily_use:
            continue
        total = daily_use[ingredient.ingredient_id] * rng.uniform(1.0, 6.0)
        shares = [rng.random() + 0.2 for _ in range(rng.randint(1, 3))]
        life = ingredient.shelf_life_days
        expiries = (
            [None] * len(shares)
            if life is None
            else sorted(today + timedelta(days=rng.randint(-2, life)) for _ in shares)
        )
        for share, expires_on in zip(shares, expiries, strict=True):
            quantity = total * share / sum(shares)
            lots.append(
                StockLot(
                    lot_id=f"L{len(lots) + 1:05d}",
                    ingredient_id=ingredient.ingredient_id,
                    quantity=float(round(quantity)) if ingredient.unit == "pcs" else round(quantity, 3),
                    expires_on=expires_on,
                )
            )
    return lots
