"""The reorder rules bakeries use today, as ERPs ship them: Odoo-style min/max and ERPNext's reorder level.

Pure: no I/O, no clock. Quantities are in the ingredient's unit. Both rules review every ingredient
every morning, look only at stock position (on hand + incoming, ignoring expiry dates and the
calendar) and the mean daily use of the last `USE_WINDOW_DAYS` calendar days, and order from the
cheapest supplier (unit price, then lead time, then supplier_id) for delivery after its lead time.
The lead time L in the rules is the one the bakery experiences for an order placed today: the
item's lead time plus the wait for the supplier's next delivery weekday (as a buyer would set it).
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from contracts.planning import Supplier, SupplierItem
from lab.simulation.truth import USE_WINDOW_DAYS, Truth, cheapest_item
from lab.simulation.world import QUANTITY_EPSILON, Order, World, next_delivery_day

# Typical settings: min covers the lead time plus 2 days of safety, max adds a week of use (one
# order a week); ERPNext's level covers the lead time plus 1 day and re-orders a week of use.
MINMAX_SAFETY_DAYS = 2
MINMAX_CYCLE_DAYS = 7
REORDER_SAFETY_DAYS = 1
REORDER_QTY_DAYS = 7


class OrderRule(Protocol):
    def __call__(self, *, daily_use: float, lead_time_days: int, position: float, item: SupplierItem) -> float: ...


def to_supplier_terms(quantity: float, item: SupplierItem) -> float:
    """`quantity` raised to the MOQ and then up to whole packs, 3 decimals; 0 stays 0."""
    if quantity <= QUANTITY_EPSILON:
        return 0.0
    packs = math.ceil(max(quantity, item.moq) / item.pack_size - QUANTITY_EPSILON)
    return round(max(1, packs) * item.pack_size, 3)


def minmax_order_quantity(*, daily_use: float, lead_time_days: int, position: float, item: SupplierItem) -> float:
    """Odoo-style min/max: below min = use × (L + 2), order up to max = min + 7 days of use.

    Returns 0 when the position is at or above min (or nothing is used), else
    `max - position` rounded up to the MOQ and whole packs.
    """
    minimum = daily_use * (lead_time_days + MINMAX_SAFETY_DAYS)
    if daily_use <= 0 or position >= minimum:
        return 0.0
    maximum = minimum + daily_use * MINMAX_CYCLE_DAYS
    return to_supplier_terms(maximum - position, item)


def reorder_level_quantity(*, daily_use: float, lead_time_days: int, position: float, item: SupplierItem) -> float:
    """ERPNext reorder level: at or below level = use × (L + 1), order max(reorder_qty, level − position).

    `reorder_qty` is 7 days of use; the quantity is rounded up to the MOQ and whole packs. Returns 0
    above the level or when nothing is used.
    """
    level = daily_use * (lead_time_days + REORDER_SAFETY_DAYS)
    if daily_use <= 0 or position > level:
        return 0.0
    return to_supplier_terms(max(daily_use * REORDER_QTY_DAYS, level - position), item)


def tier_price(item: SupplierItem, quantity: float) -> float:
    """The unit price of a line of `quantity`: the tier with the largest min_quantity <= quantity."""
    reached = [tier for tier in item.price_tiers if tier.min_quantity <= quantity]
    return max(reached, key=lambda tier: tier.min_quantity).unit_price if reached else item.unit_price


@dataclass(frozen=True)
class _Source:
    column: int
    ingredient_id: str
    supplier: Supplier
    item: SupplierItem


class RulePolicy:
    """Applies one order rule to every ingredient a product uses, each morning."""

    def __init__(self, truth: Truth, rule: OrderRule):
        self._truth = truth
        self._rule = rule
        used = {i for use in truth.use_per_unit.values() for i in use}
        self._sources = []
        for column, ingredient in enumerate(truth.ingredients):
            offer = cheapest_item(truth.suppliers, ingredient.ingredient_id)
            if ingredient.ingredient_id in used and offer is not None:
                self._sources.append(_Source(column, ingredient.ingredient_id, offer[0], offer[1]))

    def orders(self, day: date, world: World) -> list[Order]:
        end = self._truth.day_index(day)
        window = self._truth.daily_use[max(0, end - USE_WINDOW_DAYS) : end]
        mean_use = window.mean(axis=0) if len(window) else None
        orders = []
        for source in self._sources:
            daily_use = float(mean_use[source.column]) if mean_use is not None else 0.0
            position = world.on_hand(source.ingredient_id) + world.incoming(source.ingredient_id)
            arrival = next_delivery_day(day + timedelta(days=source.item.lead_time_days), source.supplier)
            lead_time = (arrival - day).days
            quantity = self._rule(daily_use=daily_use, lead_time_days=lead_time, position=position, item=source.item)
            if quantity > 0:
                orders.append(
                    Order(
                        supplier_id=source.supplier.supplier_id,
                        ingredient_id=source.ingredient_id,
                        quantity=quantity,
                        unit_price=tier_price(source.item, quantity),
                        delivery_date=arrival,
                    )
                )
        return orders
