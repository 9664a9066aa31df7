"""The physical side of the simulation: ingredient lots, orders on their way, consumption and expiry.

Pure: no I/O, no clock; randomness comes from seeded `random.Random` streams. Quantities are in the
ingredient's unit, money in the tenant's currency.
"""

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.planning import Ingredient, OpenPurchaseOrder, StockLot, Supplier, SupplierReceipt
from workers.procurement.lead_time_learning import RECENT_RECEIPTS, recent

# Float noise: a remainder below this is nothing (0.1 + 0.2 - 0.3 is not 0).
QUANTITY_EPSILON = 1e-9
MAX_DELAY_DAYS = 3


@dataclass
class Lot:
    """Stock of one ingredient received together; usable on days before `expires_on` (never expires: None)."""

    lot_id: str
    ingredient_id: str
    quantity: float
    expires_on: date | None
    unit_price: float

    def fefo_key(self) -> tuple[date, str]:
        return (self.expires_on or date.max, self.lot_id)


@dataclass(frozen=True)
class Order:
    """One purchase line a policy places today, to be delivered on `delivery_date` as planned."""

    supplier_id: str
    ingredient_id: str
    quantity: float
    unit_price: float
    delivery_date: date


@dataclass(frozen=True)
class Shipment:
    """A placed order: planned for `planned_on`, arriving on `arrives_on` (the policies do not know this)."""

    order_id: str
    order: Order
    ordered_on: date
    planned_on: date
    arrives_on: date


@dataclass(frozen=True)
class Expired:
    ingredient_id: str
    quantity: float
    value: float


def delivery_dates(
    order: Order,
    supplier: Supplier,
    *,
    lead_time_days: int,
    ordered_on: date,
    seed: int,
    extra_lead_time_days: int = 0,
) -> tuple[date, date]:
    """(planned, actual) delivery dates of an order placed on `ordered_on`.

    Planned: the line's `delivery_date`, but never earlier than `ordered_on + max(1,
    lead_time_days)` (a supplier cannot beat its lead time), moved on to the supplier's next
    delivery weekday. Actual: with probability `on_time_rate` the day the supplier can really
    deliver, otherwise 1–`MAX_DELAY_DAYS` days later, again on a delivery weekday. The day it can
    really deliver is the planned one, unless its true lead time is `extra_lead_time_days` longer
    than the master data's: then the line's `delivery_date`, but never earlier than `ordered_on +
    max(1, lead_time_days + extra_lead_time_days)`, on a delivery weekday. The draw depends only on
    (seed, supplier, order day, planned day), so every policy meets the same supplier behaviour.
    """
    earliest = ordered_on + timedelta(days=max(1, lead_time_days))
    planned = next_delivery_day(max(order.delivery_date, earliest), supplier)
    can = planned
    if extra_lead_time_days:
        truly_earliest = ordered_on + timedelta(days=max(1, lead_time_days + extra_lead_time_days))
        can = next_delivery_day(max(order.delivery_date, truly_earliest), supplier)
    rng = random.Random(f"{seed}:arrival:{supplier.supplier_id}:{ordered_on.isoformat()}:{planned.isoformat()}")
    if rng.random() >= supplier.on_time_rate:
        return planned, next_delivery_day(can + timedelta(days=rng.randint(1, MAX_DELAY_DAYS)), supplier)
    return planned, can


def next_delivery_day(day: date, supplier: Supplier) -> date:
    """The first of the supplier's delivery weekdays on or after `day` (`day` if it has none)."""
    for offset in range(7):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() in supplier.delivery_weekdays:
            return candidate
    return day


class World:
    """Ingredient lots on hand and shipments on their way, with FEFO consumption and expiry-day write-off."""

    def __init__(self, ingredients: Sequence[Ingredient], lots: Iterable[StockLot], prices: Mapping[str, float]):
        self._shelf_life = {i.ingredient_id: i.shelf_life_days for i in ingredients}
        self._lots: dict[str, list[Lot]] = {i.ingredient_id: [] for i in ingredients}
        self._shipments: list[Shipment] = []
        self._receipts: list[SupplierReceipt] = []
        self._sequence = 0
        for lot in lots:
            self._add(
                Lot(lot.lot_id, lot.ingredient_id, lot.quantity, lot.expires_on, prices.get(lot.ingredient_id, 0.0))
            )

    def _add(self, lot: Lot) -> None:
        lots = self._lots[lot.ingredient_id]
        lots.append(lot)
        lots.sort(key=Lot.fefo_key)

    def write_off(self, day: date) -> list[Expired]:
        """Remove lots whose expiry day has come (`expires_on <= day`); what was left of them is waste."""
        expired = []
        for ingredient_id, lots in self._lots.items():
            dead = [lot for lot in lots if lot.expires_on is not None and lot.expires_on <= day]
            if dead:
                self._lots[ingredient_id] = [lot for lot in lots if lot.expires_on is None or lot.expires_on > day]
            expired += [
                Expired(ingredient_id, lot.quantity, lot.quantity * lot.unit_price)
                for lot in dead
                if lot.quantity > QUANTITY_EPSILON
            ]
        return expired

    def place(self, order: Order, *, ordered_on: date, planned_on: date, arrives_on: date) -> Shipment:
        self._sequence += 1
        shipment = Shipment(f"SO{self._sequence:06d}", order, ordered_on, planned_on, arrives_on)
        self._shipments.append(shipment)
        return shipment

    def receive(self, day: date) -> list[Shipment]:
        """Turn the shipments arriving on `day` into lots expiring `shelf_life_days` later (or never),
        and record each as a receipt, as goods-in books a delivered purchase-order line."""
        arrived = [s for s in self._shipments if s.arrives_on == day]
        self._shipments = [s for s in self._shipments if s.arrives_on != day]
        for shipment in arrived:
            self._receipts.append(
                SupplierReceipt(
                    supplier_id=shipment.order.supplier_id,
                    ingredient_id=shipment.order.ingredient_id,
                    ordered_on=shipment.ordered_on,
                    expected_on=shipment.planned_on,
                    received_on=day,
                    reference=shipment.order_id,
                )
            )
            life = self._shelf_life[shipment.order.ingredient_id]
            self._add(
                Lot(
                    lot_id=shipment.order_id,
                    ingredient_id=shipment.order.ingredient_id,
                    quantity=shipment.order.quantity,
                    expires_on=None if life is None else day + timedelta(days=life),
                    unit_price=shipment.order.unit_price,
                )
            )
        return arrived

    def receipts(self, *, since: date) -> tuple[SupplierReceipt, ...]:
        """The receipts booked from `since` on, the latest `RECENT_RECEIPTS` per supplier (what the
        live snapshot reads: orchestrator/snapshot_reader.py), by supplier and receipt day."""
        booked = [receipt for receipt in self._receipts if receipt.received_on >= since]
        return tuple(receipt for found in recent(booked, limit=RECENT_RECEIPTS).values() for receipt in found)

    def on_hand(self, ingredient_id: str) -> float:
        return sum(lot.quantity for lot in self._lots[ingredient_id])

    def consume(self, ingredient_id: str, quantity: float) -> None:
        """Take `quantity` first-expiry-first-out; taking more than is on hand is a bug (ValueError)."""
        if quantity > self.on_hand(ingredient_id) + 1e-6:
            raise ValueError(f"cannot consume {quantity} of {ingredient_id!r}: only {self.on_hand(ingredient_id)}")
        lots = self._lots[ingredient_id]
        for lot in lots:
            taken = min(lot.quantity, quantity)
            lot.quantity -= taken
            quantity -= taken
            if quantity <= QUANTITY_EPSILON:
                break
        self._lots[ingredient_id] = [lot for lot in lots if lot.quantity > QUANTITY_EPSILON]

    def stock_value(self) -> float:
        return sum(lot.quantity * lot.unit_price for lots in self._lots.values() for lot in lots)

    def stock_values(self) -> dict[str, float]:
        """ingredient_id → value of its lots on hand, for the ingredients that have any."""
        return {
            ingredient_id: sum(lot.quantity * lot.unit_price for lot in lots)
            for ingredient_id, lots in sorted(self._lots.items())
            if lots
        }

    def stock_lots(self) -> tuple[StockLot, ...]:
        """The lots on hand as the planners see them, sorted by (ingredient_id, FEFO)."""
        return tuple(
            StockLot(
                lot_id=lot.lot_id,
                ingredient_id=lot.ingredient_id,
                quantity=round(lot.quantity, 3),
                expires_on=lot.expires_on,
            )
            for ingredient_id in sorted(self._lots)
            for lot in self._lots[ingredient_id]
            if round(lot.quantity, 3) > 0
        )

    def open_orders(self, day: date) -> tuple[OpenPurchaseOrder, ...]:
        """Shipments not yet arrived, at their planned date, as a purchasing system records them.

        Deliveries arrive in the morning before the plan, so one planned for `day` or earlier that
        has not come is overdue: it is reported as due yesterday at the latest (the planner decides
        when to expect it).
        """
        return tuple(
            OpenPurchaseOrder(
                order_id=s.order_id,
                supplier_id=s.order.supplier_id,
                ingredient_id=s.order.ingredient_id,
                quantity=s.order.quantity,
                delivery_date=s.planned_on if s.planned_on > day else min(s.planned_on, day - timedelta(days=1)),
            )
            for s in self._shipments
        )

    def in_flight(self) -> tuple[Shipment, ...]:
        """The shipments placed and not yet arrived, in the order they were placed."""
        return tuple(self._shipments)

    def incoming(self, ingredient_id: str) -> float:
        return sum(s.order.quantity for s in self._shipments if s.order.ingredient_id == ingredient_id)
