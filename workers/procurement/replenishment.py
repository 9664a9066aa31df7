"""Replenishment: purchase lines that keep projected ingredient stock above every requirement.

Pure: no I/O, no clock. "Today" is the `business_date` parameter; ids are uuid5 of the saga, so the
same input always gives the same lines.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID, uuid5

from bakeplan.errors import PlanningError
from contracts.planning import (
    Calendar,
    Ingredient,
    IngredientRequirement,
    OpenPurchaseOrder,
    PlanningPolicy,
    PurchaseLine,
    StockLot,
    Supplier,
    SupplierItem,
)

# Quantities are floats: a shortfall below this is float noise, not a need, and a quantity within
# this many packs of a whole number of packs is that whole number (2.1 / 0.3 is 7.000000000000001).
QUANTITY_EPSILON = 1e-9


@dataclass
class _ProjectedLot:
    """Stock of one ingredient in the projection: an existing lot or a delivered order."""

    expires_on: date | None
    quantity: float
    sort_key: str

    def usable_on(self, day: date) -> bool:
        return self.quantity > QUANTITY_EPSILON and (self.expires_on is None or day < self.expires_on)

    def fefo_key(self) -> tuple[date, str]:
        return (self.expires_on or date.max, self.sort_key)


def plan_purchases(
    saga_id: UUID,
    ingredients: Sequence[Ingredient],
    stock_lots: Sequence[StockLot],
    suppliers: Sequence[Supplier],
    requirements: Sequence[IngredientRequirement],
    *,
    business_date: date,
    open_orders: Sequence[OpenPurchaseOrder] = (),
    policy: PlanningPolicy = PlanningPolicy(),
    calendar: Calendar = Calendar(),
) -> tuple[PurchaseLine, ...]:
    """Order what projected stock cannot cover, from the cheapest supplier, in whole packs.

    Quantities are in the ingredient's unit. Per ingredient, the requirement days are walked in
    date order (requirements of one ingredient and day are summed). Each day consumes the usable
    lots first-expiry-first-out; a lot with `expires_on = E` is usable only on days before E, one
    without `expires_on` never expires. A shortfall is ordered for delivery that day from the
    supplier item with the lowest unit price (then shorter lead time, then supplier_id): the
    quantity is max(shortfall, MOQ) rounded up to whole packs and then to 3 decimals. The surplus of
    an order joins the stock from its delivery day and expires `shelf_life_days` after it, or never
    if the ingredient has no shelf life. `order_date = delivery_date - lead_time_days`; the line is
    `late` if that is before `business_date` (the date is kept as computed).
    `line_id` is `uuid5(saga_id, "po:{supplier_id}:{ingredient_id}:{delivery_date}")`.

    Lines are sorted by (order_date, supplier_id, ingredient_id, delivery_date).

    Raises `PlanningError` if a requirement names an ingredient not in `ingredients`, or if stock
    cannot cover an ingredient and no supplier offers it.
    """
    ingredients_by_id = {ingredient.ingredient_id: ingredient for ingredient in ingredients}
    needed: dict[str, dict[date, float]] = {}
    for requirement in requirements:
        if requirement.ingredient_id not in ingredients_by_id:
            raise PlanningError(
                f"saga {saga_id}: a requirement for {requirement.day} names unknown ingredient "
                f"{requirement.ingredient_id!r}; add the ingredient to the master data"
            )
        days = needed.setdefault(requirement.ingredient_id, {})
        days[requirement.day] = days.get(requirement.day, 0.0) + requirement.quantity

    lines: list[PurchaseLine] = []
    for ingredient_id, needed_by_day in sorted(needed.items()):
        lines.extend(
            _purchases_for_ingredient(
                saga_id,
                ingredients_by_id[ingredient_id],
                [lot for lot in stock_lots if lot.ingredient_id == ingredient_id],
                suppliers,
                needed_by_day,
                business_date=business_date,
            )
        )
    lines.sort(key=lambda line: (line.order_date, line.supplier_id, line.ingredient_id, line.delivery_date))
    return tuple(lines)


def _purchases_for_ingredient(
    saga_id: UUID,
    ingredient: Ingredient,
    stock_lots: Sequence[StockLot],
    suppliers: Sequence[Supplier],
    needed_by_day: dict[date, float],
    *,
    business_date: date,
) -> list[PurchaseLine]:
    lots = [_ProjectedLot(lot.expires_on, lot.quantity, f"lot:{lot.lot_id}") for lot in stock_lots]
    lines: list[PurchaseLine] = []
    for day in sorted(needed_by_day):
        lots.sort(key=_ProjectedLot.fefo_key)
        usable = [lot for lot in lots if lot.usable_on(day)]
        on_hand = sum(lot.quantity for lot in usable)
        shortfall = needed_by_day[day]
        for lot in usable:
            taken = min(lot.quantity, shortfall)
            lot.quantity -= taken
            shortfall -= taken
        if shortfall <= QUANTITY_EPSILON:
            continue
        supplier_id, item = _cheapest_offer(saga_id, ingredient.ingredient_id, suppliers)
        ordered = max(shortfall, item.moq)
        packs = max(1, math.ceil(ordered / item.pack_size - QUANTITY_EPSILON))
        quantity = round(packs * item.pack_size, 3)
        expires_on = None
        if ingredient.shelf_life_days is not None:
            expires_on = day + timedelta(days=ingredient.shelf_life_days)
        lots.append(_ProjectedLot(expires_on, quantity - shortfall, f"po:{day.isoformat()}"))
        order_date = day - timedelta(days=item.lead_time_days)
        late = order_date < business_date
        lines.append(
            PurchaseLine(
                line_id=str(uuid5(saga_id, f"po:{supplier_id}:{ingredient.ingredient_id}:{day.isoformat()}")),
                supplier_id=supplier_id,
                ingredient_id=ingredient.ingredient_id,
                order_date=order_date,
                delivery_date=day,
                quantity=quantity,
                unit_price=item.unit_price,
                late=late,
                reason=(
                    f"need {_amount(needed_by_day[day])}, on hand {_amount(on_hand)},"
                    f" short {_amount(shortfall)}; max(short, MOQ {_amount(item.moq)})"
                    f" → {packs} × pack {_amount(item.pack_size)} = {_amount(quantity)};"
                    f" lead time {item.lead_time_days} d" + (" (late)" if late else "")
                ),
            )
        )
    return lines


def _cheapest_offer(saga_id: UUID, ingredient_id: str, suppliers: Sequence[Supplier]) -> tuple[str, SupplierItem]:
    offers = [
        (item.unit_price, item.lead_time_days, supplier.supplier_id, item)
        for supplier in suppliers
        for item in supplier.items
        if item.ingredient_id == ingredient_id
    ]
    if not offers:
        raise PlanningError(
            f"saga {saga_id}: stock does not cover ingredient {ingredient_id!r} and no supplier "
            "offers it; add a supplier item for it"
        )
    _, _, supplier_id, item = min(offers, key=lambda offer: offer[:3])
    return supplier_id, item


def _amount(quantity: float) -> str:
    """Format a quantity for a human: at most 3 decimals, no trailing zeros, no exponent."""
    return f"{quantity:.3f}".rstrip("0").rstrip(".")
