"""The pure rules of low-stock procurement (docs/low_stock.md): debounce, and the procurement-only
saga's inputs adjusted from a fresh snapshot.

No I/O and no clock: `now`, the window and the recorded results are parameters.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID

from contracts.messages import ProcurementPlanned, StockFloor
from contracts.planning import IngredientRequirement, OpenPurchaseOrder, PlanningSnapshot, StockLot

# how far back a completed low-stock saga's lines are looked at: anything older is delivered
RECORDED_LINES_LOOKBACK_DAYS = 60


@dataclass(frozen=True)
class Signal:
    """One recorded low-stock event (quantities in the ingredient's unit)."""

    event_id: UUID
    ingredient_id: str
    quantity_on_hand: float
    threshold: float
    observed_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class PendingTenant:
    tenant_id: str
    oldest_received_at: datetime
    """When the oldest signal not yet covered by a saga was received (the orchestrator's clock)."""
    running: bool
    """A procurement-only saga of this tenant is still running or compensating."""


def due_tenants(pending: Iterable[PendingTenant], *, now: datetime, window: timedelta) -> tuple[str, ...]:
    """Tenants whose procurement-only saga starts now, sorted: the oldest pending signal was received
    at least `window` ago and no procurement-only saga of the tenant is running. Signals of a tenant
    with a running saga wait; the next saga covers them and sees the running one's lines as open."""
    return tuple(sorted(p.tenant_id for p in pending if not p.running and now - p.oldest_received_at >= window))


def newest_signals(signals: Iterable[Signal]) -> dict[str, Signal]:
    """The newest signal per ingredient, by observation time (then receipt time, then id, so the
    choice is total): its quantity on hand is the truth now."""
    newest: dict[str, Signal] = {}
    for signal in signals:
        current = newest.get(signal.ingredient_id)
        if current is None or _order(signal) > _order(current):
            newest[signal.ingredient_id] = signal
    return newest


def _order(signal: Signal) -> tuple[datetime, datetime, str]:
    return (signal.observed_at, signal.received_at, str(signal.event_id))


def trim_lots(lots: Sequence[StockLot], ingredient_id: str, on_hand: float) -> tuple[StockLot, ...]:
    """The ingredient's lots made to sum to `on_hand`.

    Lower than the lots: what was used since the master data was written was used first-expiring-first
    (no expiry counts as last), so those lots are cut first. Higher: the surplus is one more lot
    `counted:{ingredient_id}` without an expiry date. Lots of other ingredients are not returned.
    """
    own = sorted(
        (lot for lot in lots if lot.ingredient_id == ingredient_id),
        key=lambda lot: (lot.expires_on is None, lot.expires_on or date.max, lot.lot_id),
    )
    surplus = sum(lot.quantity for lot in own) - on_hand
    if surplus < 0:
        return (*own, StockLot(lot_id=f"counted:{ingredient_id}", ingredient_id=ingredient_id, quantity=-surplus))
    kept: list[StockLot] = []
    for lot in own:
        cut = min(lot.quantity, surplus)
        surplus -= cut
        if lot.quantity - cut > 0:
            kept.append(lot.model_copy(update={"quantity": lot.quantity - cut}))
    return tuple(kept)


def open_lines(
    recorded: Iterable[ProcurementPlanned], *, business_date: date, released: Collection[str] = frozenset()
) -> tuple[OpenPurchaseOrder, ...]:
    """Purchase lines of completed sagas still to be delivered (delivery on or after `business_date`),
    as open orders `line:{line_id}`: supply on their delivery date, and an occupied slot. Lines in
    `released` (ids of lines released as purchase orders) are left out: the snapshot counts what their
    orders still bring (docs/orders.md)."""
    orders = {
        line.line_id: OpenPurchaseOrder(
            order_id=f"line:{line.line_id}",
            supplier_id=line.supplier_id,
            ingredient_id=line.ingredient_id,
            quantity=line.quantity,
            delivery_date=line.delivery_date,
        )
        for result in recorded
        for line in result.purchase_lines
        if line.delivery_date >= business_date and line.line_id not in released
    }
    return tuple(orders[line_id] for line_id in sorted(orders))


@dataclass(frozen=True)
class LowStockInputs:
    """What the procurement-only saga plans from: the adjusted snapshot it records, and the rest of its
    `PlanProcurement`."""

    snapshot: PlanningSnapshot
    requirements: tuple[IngredientRequirement, ...]
    stock_floors: tuple[StockFloor, ...]


def low_stock_inputs(
    snapshot: PlanningSnapshot,
    signals: Iterable[Signal],
    *,
    requirements: Sequence[IngredientRequirement],
    recorded: Iterable[ProcurementPlanned],
    local_time: time,
    released: Collection[str] = frozenset(),
) -> LowStockInputs:
    """The fresh `snapshot` adjusted for low-stock procurement of the signalled ingredients only:
    - stock: each signalled ingredient's lots trimmed (or topped up) to its newest signal's on hand;
    - requirements: `requirements` (today's completed daily plan's) of those ingredients;
    - open supply: the snapshot's open orders (master data, and released purchase orders not yet
      received) plus the `recorded` lines still to come that were not released (`released`: their
      line ids), of those ingredients. A line held by its release (a later order date) is still the
      tenant's plan: counted here, and re-planned by the next daily plan;
    - floors: the newest signal's threshold per ingredient;
    - policy: planned at `local_time`, so the suppliers' cut-offs apply to the moment of ordering.
    Products, recipes, sales and regressors are dropped: a procurement-only saga does not read them.
    """
    newest = newest_signals(signals)
    wanted = set(newest)
    lots = tuple(
        lot
        for ingredient_id in sorted(wanted)
        for lot in trim_lots(snapshot.stock_lots, ingredient_id, newest[ingredient_id].quantity_on_hand)
    )
    opened = [
        order
        for order in (
            *snapshot.open_purchase_orders,
            *open_lines(recorded, business_date=snapshot.business_date, released=released),
        )
        if order.ingredient_id in wanted
    ]
    adjusted = snapshot.model_copy(
        update={
            "products": (),
            "recipes": (),
            "components": (),
            "sales": (),
            "regressors": (),
            "ingredients": tuple(i for i in snapshot.ingredients if i.ingredient_id in wanted),
            "stock_lots": lots,
            "open_purchase_orders": tuple(opened),
            "policy": snapshot.policy.model_copy(update={"planned_at": local_time.replace(microsecond=0)}),
        }
    )
    floors = tuple(StockFloor(ingredient_id=i, quantity=newest[i].threshold) for i in sorted(wanted))
    return LowStockInputs(
        snapshot=adjusted,
        requirements=tuple(r for r in requirements if r.ingredient_id in wanted),
        stock_floors=floors,
    )
