"""The messages of purchase orders (docs/orders.md): the saga's release step, the orders it releases
to the supplier channels, and what comes back from suppliers and goods-in.

- the release step: `ReleasePurchaseOrders` (command), `PurchaseOrdersReleased` (reply) and
  `CancelReleasedOrders` (its compensation, sent only when a release timed out);
- out, on `Topic.PURCHASE_ORDERS` (a dispatcher's seam): `OrderReleased`, carrying the
  `contracts.purchasing.PurchaseOrder`, and `OrderCancelled`;
- an alert, on `Topic.ALERTS`: `OrderSendFailed` (a channel gave up on an order);
- in, on `Topic.PURCHASING_EVENTS`: `OrderSent` (a channel handed it to the supplier),
  `OrderConfirmed` (the supplier accepted it, perhaps with other quantities or another date) and
  `GoodsReceived` (goods-in booked a delivery), each applied exactly once.

Quantities are in the ingredient's own unit, money in the tenant's currency.
"""

from datetime import date, time
from typing import Literal

from pydantic import AwareDatetime, Field

from contracts import bounds
from contracts.envelope import Message, Strict
from contracts.planning import Ingredient, PurchaseLine
from contracts.purchasing import PurchaseOrder

PO_NUMBER = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")
LINE_ID = Field(min_length=1, max_length=64)


# --- the release step ---------------------------------------------------------------------------


class OrderingSupplier(Strict):
    """What releasing needs of a supplier: its name for the order, its cut-off for the due rule."""

    supplier_id: str
    name: str
    order_cutoff: time | None = Field(default=None, description="tenant-local; orders after it count the next day")


class ReleasePurchaseOrders(Message):
    """Release the saga's due purchase lines as purchase orders (the saga's pivot).

    Due: order date on or before `business_date` and the supplier's cut-off not passed at `placed_at`,
    or an emergency line (a low-stock saga's, which must go out now). The others are held: the next
    daily plan re-plans them. `purchase_lines` are the procurement step's lines; `ingredients` and
    `suppliers` are the snapshot's entries those lines name.
    """

    event_type: Literal["procurement.release_purchase_orders"] = "procurement.release_purchase_orders"
    business_date: date
    placed_at: AwareDatetime = Field(description="when the orders go out, in the tenant's local time (its offset)")
    time_zone: str = Field(min_length=1, max_length=64, description="the tenant's IANA time zone")
    tenant_name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    purchase_lines: tuple[PurchaseLine, ...] = Field(max_length=bounds.PLAN_LINES)
    ingredients: tuple[Ingredient, ...] = Field(max_length=bounds.INGREDIENTS)
    suppliers: tuple[OrderingSupplier, ...] = Field(max_length=bounds.SUPPLIERS)


class HeldLine(Strict):
    """A purchase line the release did not order, and why."""

    line_id: str
    supplier_id: str
    ingredient_id: str
    order_date: date
    reason: Literal["order_date_later", "cutoff_passed"]
    note: str


class PurchaseOrdersReleased(Message):
    """The release step's reply: the orders released (each also went out as `OrderReleased`) and the
    lines held back."""

    event_type: Literal["procurement.purchase_orders_released"] = "procurement.purchase_orders_released"
    step: Literal["release"] = "release"
    purchase_orders: tuple[PurchaseOrder, ...] = Field(max_length=bounds.PURCHASE_ORDERS)
    held_lines: tuple[HeldLine, ...] = Field(default=(), max_length=bounds.PLAN_LINES)


class CancelReleasedOrders(Message):
    """Undo a release whose reply never came (its step timed out): its orders still `released` are
    cancelled; an order a channel already sent is handled forward, not undone."""

    event_type: Literal["procurement.cancel_released_orders"] = "procurement.cancel_released_orders"
    attempt: int = Field(default=1, ge=1)


# --- out: to the supplier channels -----------------------------------------------------------------


class OrderReleased(Message):
    """A purchase order to send to its supplier. `purchase_order.po_number` is the supplier's
    idempotency key: the same order may be published more than once, and means one order."""

    event_type: Literal["purchasing.order_released"] = "purchasing.order_released"
    purchase_order: PurchaseOrder


class OrderCancelled(Message):
    """A purchase order is cancelled: a channel that has not sent it drops it, one that has tells
    the supplier."""

    event_type: Literal["purchasing.order_cancelled"] = "purchasing.order_cancelled"
    po_number: str = PO_NUMBER
    supplier_id: str
    reason: str


# --- in: from channels, suppliers and goods-in -------------------------------------------------------


class OrderSent(Message):
    """A channel handed the order to its supplier (email sent, webhook acknowledged, file dropped)."""

    event_type: Literal["purchasing.order_sent"] = "purchasing.order_sent"
    po_number: str = PO_NUMBER
    sent_at: AwareDatetime
    channel: str = Field(min_length=1, max_length=64, description="email, webhook, file, …")
    note: str = Field(default="", max_length=500)


class ConfirmedLine(Strict):
    line_id: str = LINE_ID
    quantity: float = Field(ge=0, description="what the supplier will deliver, in the ingredient's unit; 0: none")


class OrderConfirmed(Message):
    """The supplier accepted the order. `delivery_date` set: it delivers then instead; `lines` name
    the lines whose quantity changed (the others come as ordered). A second confirmation replaces
    the first."""

    event_type: Literal["purchasing.order_confirmed"] = "purchasing.order_confirmed"
    po_number: str = PO_NUMBER
    confirmed_at: AwareDatetime
    delivery_date: date | None = None
    lines: tuple[ConfirmedLine, ...] = Field(default=(), max_length=1000)
    note: str = Field(default="", max_length=500)


class ReceivedLine(Strict):
    line_id: str = LINE_ID
    quantity: float = Field(ge=0, description="received, in the ingredient's unit")
    expires_on: date | None = Field(default=None, description="the lot's expiry; None: from the shelf life")


class GoodsReceived(Message):
    """Goods-in booked one delivery of an order. `receipt_id` (the delivery note) is unique per order:
    the same receipt sent again, under any event id, is booked once. Lines not named received nothing."""

    event_type: Literal["purchasing.goods_received"] = "purchasing.goods_received"
    po_number: str = PO_NUMBER
    receipt_id: str = Field(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9_.-]+$")
    received_at: AwareDatetime
    lines: tuple[ReceivedLine, ...] = Field(min_length=1, max_length=1000)
    note: str = Field(default="", max_length=500)


PurchasingEvent = OrderSent | OrderConfirmed | GoodsReceived


# --- alerts --------------------------------------------------------------------------------------------


class OrderSendFailed(Message):
    """A purchase order could not be sent to its supplier: the channel's retries ran out, or the
    supplier's side refused it for good (`permanent`). The order is `send_failed`; an operator fixes
    the cause and resends it (`bakeplan orders resend`) or cancels it. Never silent (on `Topic.ALERTS`)."""

    event_type: Literal["purchasing.order_send_failed"] = "purchasing.order_send_failed"
    po_number: str = PO_NUMBER
    supplier_id: str
    supplier_name: str = ""
    channel: str = Field(min_length=1, max_length=300, description="the channel's kind and address")
    attempts: int = Field(ge=0)
    permanent: bool
    reason: str = Field(max_length=2000)


PURCHASING_MESSAGES: tuple[type[Message], ...] = (
    ReleasePurchaseOrders,
    PurchaseOrdersReleased,
    CancelReleasedOrders,
    OrderReleased,
    OrderCancelled,
    OrderSent,
    OrderConfirmed,
    GoodsReceived,
    OrderSendFailed,
)
