"""A purchase order's life after release (docs/orders.md): the statuses, what each event changes,
why one cannot be applied, and what is still to come.

    released → sent → confirmed → partly_received → received
      │  ↑      └─────────┴──────────────┴──→ cancelled
      ↓  │ (resend)
    send_failed ───────────────────────────→ cancelled

Pure: the orchestrator's store (orchestrator/purchasing_store.py) and `bakeplan orders` read the order,
call these rules, and write what they return; the problems they return park an event with the reason.

- **Supply**: an order in `released`, `sent`, `confirmed` or `partly_received` still brings, per line,
  its expected quantity (the confirmed one, else the ordered one) less what was received, on its
  expected delivery date (the confirmed one, else the ordered one). Received and cancelled orders bring
  nothing more.
- **Sent** moves `released` (or `send_failed`, sent after all) to `sent`; later it changes nothing
  (recorded all the same).
- **Send failed**: the supplier channel gave up (retries exhausted, or a permanent refusal). The order
  still counts as supply: it is the operator's to resend (`send_failed → released`, and the channel
  sends it again) or to cancel, which frees its need for the next plan. So no need is ordered twice.
- **Confirmed** moves `released` or `sent` to `confirmed` (a second confirmation replaces the first):
  changed quantities per line, a changed delivery date. An order with goods received is past it.
- **Received** books quantities per line (never negative: the contract refuses them) and makes stock
  lots of them. Partial deliveries leave the order `partly_received`; the order is `received` once
  every line has what was expected. More than expected is booked whole (an over-delivery, shown per
  line); early and late deliveries are measured against the expected delivery date. A receipt on a
  received order is booked too (a delivery that came after all); on a cancelled one it is refused.
- **Cancelled**: from any status before `received`; what was received stays booked.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from contracts.planning import Ingredient, StockLot
from contracts.purchasing_messages import GoodsReceived, OrderConfirmed, OrderSent
from workers.procurement.shelf_life import shelf_life_days

Status = Literal["released", "send_failed", "sent", "confirmed", "partly_received", "received", "cancelled"]
STATUSES: tuple[Status, ...] = (
    "released",
    "send_failed",
    "sent",
    "confirmed",
    "partly_received",
    "received",
    "cancelled",
)
OPEN_STATUSES: tuple[Status, ...] = ("released", "send_failed", "sent", "confirmed", "partly_received")
"""An order in one of these still brings what it has not delivered: supply for the next plan."""
Source = Literal["release", "channel", "supplier", "goods_in", "operator", "compensation"]

_EPSILON = 1e-9


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    line_id: str
    ingredient_id: str
    ingredient_name: str
    unit: str
    quantity: float
    unit_price: float
    confirmed_quantity: float | None = None
    received_quantity: float = 0.0

    @property
    def expected(self) -> float:
        """What the supplier is to deliver: the confirmed quantity, else the ordered one."""
        return self.quantity if self.confirmed_quantity is None else self.confirmed_quantity

    @property
    def remaining(self) -> float:
        """Still to come (never negative: an over-delivery leaves nothing to come)."""
        return max(0.0, self.expected - self.received_quantity)


@dataclass(frozen=True)
class Order:
    tenant_id: str
    po_number: str
    supplier_id: str
    status: Status
    delivery_date: date
    lines: tuple[OrderLine, ...]
    confirmed_delivery_date: date | None = None

    @property
    def expected_delivery(self) -> date:
        return self.confirmed_delivery_date or self.delivery_date

    def line(self, line_id: str) -> OrderLine | None:
        return next((line for line in self.lines if line.line_id == line_id), None)


@dataclass(frozen=True)
class Change:
    """An event applied to an order: the order after it and the history note to record."""

    order: Order
    note: str
    lots: tuple[StockLot, ...] = ()


def _after_receipts(status: Status, lines: Sequence[OrderLine]) -> Status:
    if status == "received" or all(line.remaining <= _EPSILON for line in lines):
        return "received"
    return "partly_received" if any(line.received_quantity > 0 for line in lines) else status


def _refuse_closed(order: Order, what: str, closed: Sequence[Status]) -> list[str]:
    if order.status in closed:
        return [f"{what}: order {order.po_number} is {order.status}"]
    return []


def mark_sent(order: Order, event: OrderSent) -> Change:
    """`released` or `send_failed` → `sent`; any later status stays (the note says the channel sent it again)."""
    via = f"sent by {event.channel} at {event.sent_at:%Y-%m-%d %H:%M %z}" + (f": {event.note}" if event.note else "")
    if order.status not in ("released", "send_failed"):
        return Change(order, f"{via} (stays {order.status})")
    return Change(replace(order, status="sent"), via)


def mark_send_failed(order: Order, *, channel: str, attempts: int, error: str) -> Change:
    """`released` → `send_failed`: the channel gave up. Any other status stays (a confirmation or a
    receipt came first: the supplier has the order after all), with the failure in the note."""
    note = f"send failed on {channel} after {attempts} attempt(s): {error}"
    if order.status != "released":
        return Change(order, f"{note} (stays {order.status})")
    return Change(replace(order, status="send_failed"), note)


def resend_problems(order: Order) -> list[str]:
    """Why the order cannot be sent again: only an order whose send failed (or is still to be sent) can."""
    if order.status not in ("released", "send_failed"):
        return [f"resend: order {order.po_number} is {order.status}; only a released or send_failed order is sent"]
    return []


def resend(order: Order, by: str) -> Change:
    """`send_failed` → `released` (call `resend_problems` first): the channel sends it again."""
    return Change(replace(order, status="released"), f"resend requested by {by}")


def confirmation_problems(order: Order, event: OrderConfirmed) -> list[str]:
    """Why the confirmation cannot be applied: the order is past confirming, or a line is not its."""
    problems = _refuse_closed(order, "purchasing.order_confirmed", ("partly_received", "received", "cancelled"))
    seen: set[str] = set()
    for n, line in enumerate(event.lines):
        place = f"purchasing.order_confirmed lines[{n}].line_id"
        if line.line_id in seen:
            problems.append(f"{place}: line {line.line_id!r} appears twice")
        elif order.line(line.line_id) is None:
            problems.append(f"{place}: unknown line {line.line_id!r} of order {order.po_number}")
        seen.add(line.line_id)
    return problems


def confirm(order: Order, event: OrderConfirmed) -> Change:
    """The confirmed order (call `confirmation_problems` first). Lines not named come as ordered."""
    changed = {line.line_id: line.quantity for line in event.lines}
    lines = tuple(replace(line, confirmed_quantity=changed.get(line.line_id, line.quantity)) for line in order.lines)
    delivery = event.delivery_date or order.delivery_date
    notes = [f"confirmed at {event.confirmed_at:%Y-%m-%d %H:%M %z}"]
    if delivery != order.delivery_date:
        notes.append(f"delivery moved from {order.delivery_date} to {delivery}")
    for line in lines:
        if line.confirmed_quantity != line.quantity:
            notes.append(f"{line.ingredient_name}: {line.confirmed_quantity:g} {line.unit} of {line.quantity:g}")
    if event.note:
        notes.append(event.note)
    confirmed = replace(order, status="confirmed", lines=lines, confirmed_delivery_date=delivery)
    return Change(confirmed, "; ".join(notes))


def receipt_problems(order: Order, event: GoodsReceived) -> list[str]:
    """Why the receipt cannot be booked: a cancelled order, a line that is not the order's or named twice."""
    problems = _refuse_closed(order, "purchasing.goods_received", ("cancelled",))
    seen: set[str] = set()
    for n, line in enumerate(event.lines):
        place = f"purchasing.goods_received lines[{n}].line_id"
        if line.line_id in seen:
            problems.append(f"{place}: line {line.line_id!r} appears twice; send one line per order line")
        elif order.line(line.line_id) is None:
            known = ", ".join(f"{x.line_id} ({x.ingredient_name})" for x in order.lines[:5])
            problems.append(f"{place}: unknown line {line.line_id!r} of order {order.po_number}; its lines: {known}")
        seen.add(line.line_id)
    return problems


def lot_id(po_number: str, line_no: int, receipt_id: str) -> str:
    """The stock lot one receipt makes of one order line (unique per tenant, at most 64 characters)."""
    return f"{po_number}/{line_no}/{receipt_id}"


def receive(order: Order, event: GoodsReceived, ingredients: Mapping[str, Ingredient]) -> Change:
    """The order after the receipt, and the stock lots it makes (call `receipt_problems` first).

    A lot without `expires_on` expires the ingredient's shelf life after the receipt day (its own, else
    its category's: workers/procurement/shelf_life.py), or never for what does not perish."""
    received = {line.line_id: line for line in event.lines}
    day = event.received_at.date()
    lines: list[OrderLine] = []
    lots: list[StockLot] = []
    notes = [f"receipt {event.receipt_id} on {day}"]
    early_late = (day - order.expected_delivery).days
    if early_late:
        notes.append(f"{abs(early_late)} day(s) {'late' if early_late > 0 else 'early'}")
    for line in order.lines:
        got = received.get(line.line_id)
        if got is None or got.quantity <= 0:
            lines.append(line)
            continue
        after = replace(line, received_quantity=line.received_quantity + got.quantity)
        lines.append(after)
        expires = got.expires_on
        if expires is None and line.ingredient_id in ingredients:
            keeps = shelf_life_days(ingredients[line.ingredient_id])
            expires = None if keeps is None else day + timedelta(days=keeps)
        lots.append(
            StockLot(
                lot_id=lot_id(order.po_number, line.line_no, event.receipt_id),
                ingredient_id=line.ingredient_id,
                quantity=got.quantity,
                expires_on=expires,
            )
        )
        over = after.received_quantity - after.expected
        what = f"{line.ingredient_name}: {got.quantity:g} {line.unit}"
        if over > _EPSILON:
            what += f" (over-delivered by {over:g} {line.unit})"
        notes.append(what)
    if event.note:
        notes.append(event.note)
    status = _after_receipts(order.status, lines)
    return Change(replace(order, status=status, lines=tuple(lines)), "; ".join(notes), tuple(lots))


def cancel_problems(order: Order) -> list[str]:
    return _refuse_closed(order, "cancel", ("received", "cancelled"))


def cancel(order: Order, reason: str) -> Change:
    """The cancelled order (call `cancel_problems` first); what was received stays booked."""
    left = sum(line.remaining > _EPSILON for line in order.lines)
    note = f"cancelled: {reason}" + (f"; {left} line(s) no longer expected" if left else "")
    return Change(replace(order, status="cancelled"), note)


def delivery_timing(expected: date, received_on: date) -> str:
    """`on time`, `2 day(s) late` or `1 day(s) early`, for people."""
    days = (received_on - expected).days
    if days == 0:
        return "on time"
    return f"{abs(days)} day(s) {'late' if days > 0 else 'early'}"
