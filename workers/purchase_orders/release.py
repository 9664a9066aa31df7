"""Releasing a saga's purchase lines as purchase orders: the saga's pivot (docs/orders.md).

Pure: no I/O, no clock. The command carries everything: the lines, the names and units, the
suppliers' cut-offs, the tenant's currency and the moment of release, so the same command always
gives the same orders, and replay re-derives them.

A line is **due**, and released, when
- it is an emergency (a low-stock saga's line that must go out now): whatever the hour; or
- its order date is on or before the business date, and its supplier's cut-off has not passed:
  `placed_at` (tenant-local) is not later than the cut-off on the business date. A plan made for a
  later day is made before that day's cut-off; one made for an earlier day, after it.
Other lines are **held**, with the reason: `order_date_later` (a later daily plan orders them) or
`cutoff_passed` (the next daily plan re-plans them, as placed the next day).

Due lines become one order per (supplier, delivery date), numbered by `contracts.ids.
purchase_order_number` in (supplier id, delivery date) order; an order's lines are in ingredient
order. Money: each line's amount is quantity × unit price, the total their sum, both rounded to
cents.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time

from contracts import ids
from contracts.errors import PlanningError
from contracts.planning import Ingredient, PurchaseLine
from contracts.purchasing import PurchaseOrder, PurchaseOrderLine
from contracts.purchasing_messages import HeldLine, OrderingSupplier, ReleasePurchaseOrders


@dataclass(frozen=True)
class Release:
    orders: tuple[PurchaseOrder, ...]
    held: tuple[HeldLine, ...]


def cutoff_passed(cutoff: time | None, *, business_date: date, placed_at: datetime) -> bool:
    """The supplier's cut-off of `business_date` is behind `placed_at` (compared on the tenant's wall
    clock: `placed_at` carries the tenant's offset). No cut-off never passes."""
    if cutoff is None:
        return False
    return placed_at.replace(tzinfo=None) > datetime.combine(business_date, cutoff)


def _held(line: PurchaseLine, supplier: OrderingSupplier, command: ReleasePurchaseOrders) -> HeldLine | None:
    """Why `line` is not released now; None when it is due."""
    hold = {"line_id": line.line_id, "supplier_id": line.supplier_id, "ingredient_id": line.ingredient_id}
    if line.emergency:
        return None
    if line.order_date > command.business_date:
        return HeldLine(
            **hold,
            order_date=line.order_date,
            reason="order_date_later",
            note=f"order date {line.order_date} is after {command.business_date}: a later daily plan orders it",
        )
    if cutoff_passed(supplier.order_cutoff, business_date=command.business_date, placed_at=command.placed_at):
        return HeldLine(
            **hold,
            order_date=line.order_date,
            reason="cutoff_passed",
            note=f"{supplier.name} takes orders until {supplier.order_cutoff:%H:%M} ({command.time_zone}); "
            f"released at {command.placed_at:%Y-%m-%d %H:%M}: the next daily plan re-plans it",
        )
    return None


def _money(value: float) -> float:
    return round(value, 2)


def _order_line(line: PurchaseLine, ingredient: Ingredient) -> PurchaseOrderLine:
    return PurchaseOrderLine(
        line_id=line.line_id,
        ingredient_id=line.ingredient_id,
        ingredient_name=ingredient.name,
        quantity=line.quantity,
        unit=ingredient.unit,
        unit_price=line.unit_price,
        amount=_money(line.quantity * line.unit_price),
    )


def release(command: ReleasePurchaseOrders) -> Release:
    """The orders and held lines of `command`. Raises `PlanningError` when a line names an ingredient
    or supplier the command does not describe (a command built from another snapshot)."""
    if command.saga_id is None:
        raise PlanningError(f"release for tenant {command.tenant_id} has no saga_id: order numbers derive from it")
    ingredients = {i.ingredient_id: i for i in command.ingredients}
    suppliers = {s.supplier_id: s for s in command.suppliers}
    groups: dict[tuple[str, date], list[PurchaseLine]] = defaultdict(list)
    held: list[HeldLine] = []
    for line in command.purchase_lines:
        supplier = suppliers.get(line.supplier_id)
        if supplier is None or line.ingredient_id not in ingredients:
            missing = "supplier " + repr(line.supplier_id) if supplier is None else repr(line.ingredient_id)
            raise PlanningError(
                f"tenant {command.tenant_id}, saga {command.saga_id}: purchase line {line.line_id} names {missing}, "
                "which the release command does not describe; rebuild it from the saga's snapshot"
            )
        hold = _held(line, supplier, command)
        if hold is not None:
            held.append(hold)
        else:
            groups[(line.supplier_id, line.delivery_date)].append(line)
    orders = []
    for seq, (supplier_id, delivery_date) in enumerate(sorted(groups), start=1):
        lines = sorted(groups[(supplier_id, delivery_date)], key=lambda x: (x.ingredient_id, x.line_id))
        order_lines = tuple(_order_line(line, ingredients[line.ingredient_id]) for line in lines)
        orders.append(
            PurchaseOrder(
                po_number=ids.purchase_order_number(command.saga_id, command.business_date, seq),
                tenant_id=command.tenant_id,
                tenant_name=command.tenant_name,
                supplier_id=supplier_id,
                supplier_name=suppliers[supplier_id].name,
                order_date=min(line.order_date for line in lines),
                delivery_date=delivery_date,
                currency=command.currency,
                lines=order_lines,
                total=_money(sum(line.amount for line in order_lines)),
                released_at=command.placed_at,
            )
        )
    held.sort(key=lambda h: (h.order_date, h.supplier_id, h.ingredient_id, h.line_id))
    return Release(tuple(orders), tuple(held))
