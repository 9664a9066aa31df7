"""The dispatch use case on the in-memory deliveries: an order is sent until the record says sent, and
recorded sent once, after a crash between sending and recording and when two replicas race."""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from contracts.purchasing import PurchaseOrder
from lab.purchase_orders import a_purchase_order
from workers.procurement.channels import (
    DeliveryKey,
    DeliveryStatus,
    Dispatcher,
    MemoryDeliveries,
    Recorded,
    SendOutcome,
    SupplierChannel,
    WebhookTarget,
)

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
CHANNEL = SupplierChannel(
    tenant_id="mill-lane",
    supplier_id="northern-mills",
    target=WebhookTarget(url="https://orders.northern-mills.example/in", signing_key_name="northern-mills"),
)
SENT = SendOutcome(DeliveryStatus.SENT, attempts=1, receipt="HTTP 200 OK")
FAILED = SendOutcome(DeliveryStatus.SEND_FAILED, attempts=5, last_error="HTTP 503")


@dataclass
class Supplier:
    """A fake send: what the supplier got, and what each send reports (then sent)."""

    outcomes: list[SendOutcome] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    gate: asyncio.Event | None = None
    racers: int = 0
    all_sending: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, order: PurchaseOrder, channel: SupplierChannel) -> SendOutcome:
        if self.gate is not None:
            self.racers -= 1
            if self.racers == 0:
                self.all_sending.set()
            await self.gate.wait()
        self.received.append(order.po_number)
        return self.outcomes.pop(0) if self.outcomes else SENT


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class CrashBeforeRecording(MemoryDeliveries):
    """Deliveries whose process dies after the send, before the record is written."""

    async def record(
        self, key: DeliveryKey, outcome: SendOutcome, *, channel: SupplierChannel, at: datetime
    ) -> Recorded:
        raise SystemExit("killed between sending and recording")


async def test_an_order_is_sent_once_and_a_second_dispatch_sends_nothing() -> None:
    deliveries, supplier, order = MemoryDeliveries(), Supplier(), a_purchase_order()
    dispatcher = Dispatcher(deliveries, supplier.send, clock=Clock())
    first = await dispatcher.dispatch(order, CHANNEL)
    again = await dispatcher.dispatch(order, CHANNEL)
    assert supplier.received == [order.po_number]
    assert (first.delivery.status, first.recorded, first.outcome) == (DeliveryStatus.SENT, True, SENT)
    assert (again.delivery, again.recorded, again.outcome) == (first.delivery, False, None)
    assert first.delivery.sent_at == T0 + timedelta(minutes=1)
    assert first.delivery.receipt == "HTTP 200 OK"


async def test_a_failed_send_is_recorded_and_the_next_dispatch_sends_again() -> None:
    deliveries, supplier, order = MemoryDeliveries(), Supplier(outcomes=[FAILED]), a_purchase_order()
    dispatcher = Dispatcher(deliveries, supplier.send, clock=Clock())
    failed = await dispatcher.dispatch(order, CHANNEL)
    assert (failed.delivery.status, failed.delivery.last_error, failed.recorded) == (
        DeliveryStatus.SEND_FAILED,
        "HTTP 503",
        True,
    )
    sent = await dispatcher.dispatch(order, CHANNEL)
    assert supplier.received == [order.po_number] * 2
    d = sent.delivery
    assert (d.status, d.attempts, d.sends, d.last_error, d.first_recorded_at) == (
        DeliveryStatus.SENT,
        6,
        2,
        None,
        failed.delivery.first_recorded_at,
    )


async def test_a_crash_between_sending_and_recording_sends_again_on_restart_and_records_once() -> None:
    survived, supplier, order = MemoryDeliveries(), Supplier(), a_purchase_order()
    crashing = CrashBeforeRecording(rows=survived.rows)  # the same stored rows, as after a restart
    with pytest.raises(SystemExit):
        await Dispatcher(crashing, supplier.send).dispatch(order, CHANNEL)
    assert survived.rows == {}
    restarted = await Dispatcher(survived, supplier.send).dispatch(order, CHANNEL)
    assert supplier.received == [order.po_number, order.po_number]  # at least once: the supplier dedupes
    assert restarted.recorded
    assert restarted.delivery.sends == 1
    assert list(survived.rows) == [DeliveryKey("mill-lane", order.po_number, CHANNEL.key)]


async def test_two_replicas_racing_both_send_but_only_one_records() -> None:
    deliveries, order = MemoryDeliveries(), a_purchase_order()
    gate = asyncio.Event()
    supplier = Supplier(gate=gate, racers=2)
    replicas = [Dispatcher(deliveries, supplier.send) for _ in range(2)]
    racing = [asyncio.create_task(r.dispatch(order, CHANNEL)) for r in replicas]
    await asyncio.wait_for(supplier.all_sending.wait(), timeout=5)  # both looked the order up and are sending
    gate.set()
    results = await asyncio.gather(*racing)
    assert supplier.received == [order.po_number] * 2
    assert sorted(r.recorded for r in results) == [False, True]
    assert {r.delivery for r in results} == {deliveries.rows[DeliveryKey.of(order, CHANNEL)]}
    assert deliveries.rows[DeliveryKey.of(order, CHANNEL)].sends == 1


async def test_orders_and_channels_are_recorded_apart() -> None:
    deliveries, supplier = MemoryDeliveries(), Supplier()
    dispatcher = Dispatcher(deliveries, supplier.send)
    other_channel = CHANNEL.model_copy(
        update={"target": WebhookTarget(url="https://new.example/in", signing_key_name="k")}
    )
    for order, channel in [
        (a_purchase_order(po_number="PO-1"), CHANNEL),
        (a_purchase_order(po_number="PO-2"), CHANNEL),
        (a_purchase_order(po_number="PO-1"), other_channel),
    ]:
        assert (await dispatcher.dispatch(order, channel)).recorded
    assert supplier.received == ["PO-1", "PO-2", "PO-1"]
    assert len(deliveries.rows) == 3
