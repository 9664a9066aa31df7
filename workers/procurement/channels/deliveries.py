"""Sending released purchase orders exactly once in the record, at least once on the wire: the
`Dispatcher` use case and its `Deliveries` port.

    dispatch(order, channel):  find(key) ── sent? ──► done, nothing sent again
                                   │ no
                                   ▼
                               send (retries, no transaction open) ──► record(key, outcome)

A crash after sending and before recording leaves no record, so the next dispatch sends the order
again: delivery is at least once, and the supplier drops the repeat by the PO number (the
Idempotency-Key, the Message-ID, the file name). The record never says "sent" twice: `record` leaves a
`sent` delivery as it is, atomically (one upsert in Postgres), so two replicas racing on one order
both send but only one records, and a late failure never overwrites a success.

Two adapters implement `Deliveries` and pass one contract suite (`tests/contract/test_delivery_stores.py`):
`MemoryDeliveries` here, and `workers.procurement.channels.postgres.PostgresDeliveries`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.config import ChannelKind, SupplierChannel
from workers.procurement.channels.sending import DeliveryStatus, SendOutcome


@dataclass(frozen=True)
class DeliveryKey:
    """One order on one channel. PO numbers are unique per tenant, so the tenant is part of the key."""

    tenant_id: str
    po_number: str
    channel_key: str

    @classmethod
    def of(cls, order: PurchaseOrder, channel: SupplierChannel) -> "DeliveryKey":
        return cls(order.tenant_id, order.po_number, channel.key)


@dataclass(frozen=True)
class Delivery:
    """The recorded state of one order on one channel. `attempts` adds up every send's attempts,
    `sends` counts the sends recorded; `sent_at` is set once, when it was sent."""

    key: DeliveryKey
    channel_kind: ChannelKind
    target: str
    status: DeliveryStatus
    attempts: int
    sends: int
    receipt: str | None
    last_error: str | None
    permanent: bool
    first_recorded_at: datetime
    recorded_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class Recorded:
    delivery: Delivery
    """The stored state after `record`."""
    changed: bool
    """False when the delivery was already sent: the outcome was not recorded."""


def sending_delivery(
    previous: Delivery | None, key: DeliveryKey, *, channel: SupplierChannel, at: datetime
) -> Delivery | None:
    """The state when a send starts: `sending`, keeping what earlier sends added up; None when
    `previous` is sent (a sent delivery never changes)."""
    if previous is not None and previous.status is DeliveryStatus.SENT:
        return None
    return Delivery(
        key=key,
        channel_kind=channel.kind,
        target=channel.describe(),
        status=DeliveryStatus.SENDING,
        attempts=previous.attempts if previous else 0,
        sends=previous.sends if previous else 0,
        receipt=None,
        last_error=previous.last_error if previous else None,
        permanent=False,
        first_recorded_at=previous.first_recorded_at if previous else at,
        recorded_at=at,
        sent_at=None,
    )


def next_delivery(
    previous: Delivery | None, key: DeliveryKey, outcome: SendOutcome, *, channel: SupplierChannel, at: datetime
) -> Delivery | None:
    """The state after recording `outcome`; None when `previous` is sent (a sent delivery never changes)."""
    if previous is not None and previous.status is DeliveryStatus.SENT:
        return None
    return Delivery(
        key=key,
        channel_kind=channel.kind,
        target=channel.describe(),
        status=outcome.status,
        attempts=(previous.attempts if previous else 0) + outcome.attempts,
        sends=(previous.sends if previous else 0) + 1,
        receipt=outcome.receipt,
        last_error=outcome.last_error,
        permanent=outcome.permanent,
        first_recorded_at=previous.first_recorded_at if previous else at,
        recorded_at=at,
        sent_at=at if outcome.sent else None,
    )


class Deliveries(Protocol):
    """The delivery records: has this order been sent on this channel; record a send's outcome."""

    async def find(self, key: DeliveryKey) -> Delivery | None: ...

    async def begin(self, key: DeliveryKey, *, channel: SupplierChannel, at: datetime) -> Recorded:
        """Record `sending` before a send, atomically unless the delivery is already sent (then
        `changed` is False and the caller must not send)."""
        ...

    async def record(
        self, key: DeliveryKey, outcome: SendOutcome, *, channel: SupplierChannel, at: datetime
    ) -> Recorded:
        """Store `outcome` atomically unless the delivery is already sent (then `changed` is False)."""
        ...


@dataclass
class MemoryDeliveries:
    """The in-memory fake: each call runs without awaiting, so it is atomic in one event loop."""

    rows: dict[DeliveryKey, Delivery] = field(default_factory=dict)

    async def find(self, key: DeliveryKey) -> Delivery | None:
        return self.rows.get(key)

    async def begin(self, key: DeliveryKey, *, channel: SupplierChannel, at: datetime) -> Recorded:
        previous = self.rows.get(key)
        delivery = sending_delivery(previous, key, channel=channel, at=at)
        if delivery is None:
            assert previous is not None
            return Recorded(previous, changed=False)
        self.rows[key] = delivery
        return Recorded(delivery, changed=True)

    async def record(
        self, key: DeliveryKey, outcome: SendOutcome, *, channel: SupplierChannel, at: datetime
    ) -> Recorded:
        previous = self.rows.get(key)
        delivery = next_delivery(previous, key, outcome, channel=channel, at=at)
        if delivery is None:
            assert previous is not None
            return Recorded(previous, changed=False)
        self.rows[key] = delivery
        return Recorded(delivery, changed=True)


SendFunction = Callable[[PurchaseOrder, SupplierChannel], Awaitable[SendOutcome]]


@dataclass(frozen=True)
class Dispatch:
    delivery: Delivery
    """The recorded state after this dispatch: the caller moves the PO's lifecycle from it."""
    outcome: SendOutcome | None
    """What this dispatch's send did; None when the order had been sent before and was not sent again."""
    recorded: bool
    """This dispatch changed the record: flag the PO or raise an alert only then, once per change."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Sends an order on a channel unless the record says it was sent, then records the outcome."""

    def __init__(
        self,
        deliveries: Deliveries,
        send: SendFunction,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._deliveries = deliveries
        self._send = send
        self._clock = clock

    async def dispatch(self, order: PurchaseOrder, channel: SupplierChannel) -> Dispatch:
        key = DeliveryKey.of(order, channel)
        stored = await self._deliveries.find(key)
        if stored is not None and stored.status is DeliveryStatus.SENT:
            return Dispatch(stored, outcome=None, recorded=False)
        outcome = await self._send(order, channel)
        recorded = await self._deliveries.record(key, outcome, channel=channel, at=self._clock())
        return Dispatch(recorded.delivery, outcome=outcome, recorded=recorded.changed)
