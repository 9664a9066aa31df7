"""The `Deliveries` port over both adapters: the in-memory fake (unit) and Postgres (integration), so
the fake the use-case tests run on cannot drift from the table production writes.

The Postgres half runs on a private copy of the table in a schema of its own (`tests/channels/
deliveries_schema.py`), dropped afterwards.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.channels.deliveries_schema import private_deliveries_table
from workers.procurement.channels import (
    Deliveries,
    DeliveryKey,
    DeliveryStatus,
    EmailTarget,
    FileDropTarget,
    MemoryDeliveries,
    SendOutcome,
    SupplierChannel,
)
from workers.procurement.channels.postgres import PostgresDeliveries

T0 = datetime(2026, 11, 28, 5, 30, tzinfo=UTC)
CHANNEL = SupplierChannel(
    tenant_id="mill-lane", supplier_id="northern-mills", target=EmailTarget(to=("orders@northern-mills.example",))
)
SENT = SendOutcome(DeliveryStatus.SENT, attempts=2, receipt="<po.1@mill-lane.example>: 250 OK")
FAILED = SendOutcome(DeliveryStatus.SEND_FAILED, attempts=5, last_error="SMTP relay unreachable")
REFUSED = SendOutcome(DeliveryStatus.SEND_FAILED, attempts=1, last_error="550 no such mailbox", permanent=True)


def a_key(channel: SupplierChannel = CHANNEL) -> DeliveryKey:
    return DeliveryKey(channel.tenant_id, f"PO-{uuid.uuid4().hex[:8]}", channel.key)


@pytest.fixture
async def postgres_deliveries(contract_engine: AsyncEngine) -> AsyncIterator[PostgresDeliveries]:
    async with private_deliveries_table(contract_engine) as table:
        yield PostgresDeliveries(contract_engine, table=table)


@pytest.fixture(
    params=[pytest.param("memory", marks=pytest.mark.unit), pytest.param("postgres", marks=pytest.mark.integration)]
)
def deliveries(request: pytest.FixtureRequest) -> Deliveries:
    if request.param == "memory":
        return MemoryDeliveries()
    chosen: Deliveries = request.getfixturevalue("postgres_deliveries")
    return chosen


async def test_an_order_never_recorded_is_not_found(deliveries: Deliveries) -> None:
    assert await deliveries.find(a_key()) is None


async def test_a_first_outcome_is_recorded_as_it_is(deliveries: Deliveries) -> None:
    key = a_key()
    recorded = await deliveries.record(key, REFUSED, channel=CHANNEL, at=T0)
    d = recorded.delivery
    assert recorded.changed
    assert (d.key, d.channel_kind, d.target, d.status, d.attempts, d.sends) == (
        key,
        "email",
        "email orders@northern-mills.example",
        DeliveryStatus.SEND_FAILED,
        1,
        1,
    )
    assert (d.last_error, d.permanent, d.receipt, d.first_recorded_at, d.recorded_at, d.sent_at) == (
        "550 no such mailbox",
        True,
        None,
        T0,
        T0,
        None,
    )
    assert await deliveries.find(key) == d


async def test_a_send_after_failures_adds_up_and_keeps_when_it_started(deliveries: Deliveries) -> None:
    key = a_key()
    await deliveries.record(key, FAILED, channel=CHANNEL, at=T0)
    recorded = await deliveries.record(key, SENT, channel=CHANNEL, at=T0 + timedelta(hours=1))
    d = recorded.delivery
    assert recorded.changed
    assert (d.status, d.attempts, d.sends, d.receipt, d.last_error, d.permanent) == (
        DeliveryStatus.SENT,
        7,
        2,
        SENT.receipt,
        None,
        False,
    )
    assert (d.first_recorded_at, d.recorded_at, d.sent_at) == (T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    assert await deliveries.find(key) == d


@pytest.mark.parametrize("late", [SENT, FAILED, REFUSED])
async def test_a_sent_delivery_is_never_recorded_again(deliveries: Deliveries, late: SendOutcome) -> None:
    key = a_key()
    first = await deliveries.record(key, SENT, channel=CHANNEL, at=T0)
    again = await deliveries.record(key, late, channel=CHANNEL, at=T0 + timedelta(minutes=5))
    assert (again.changed, again.delivery) == (False, first.delivery)
    assert await deliveries.find(key) == first.delivery


async def test_a_send_begins_as_sending_and_its_outcome_replaces_it(deliveries: Deliveries) -> None:
    key = a_key()
    begun = await deliveries.begin(key, channel=CHANNEL, at=T0)
    assert begun.changed
    assert (begun.delivery.status, begun.delivery.attempts, begun.delivery.sends, begun.delivery.sent_at) == (
        DeliveryStatus.SENDING,
        0,
        0,
        None,
    )
    assert await deliveries.find(key) == begun.delivery
    recorded = await deliveries.record(key, SENT, channel=CHANNEL, at=T0 + timedelta(seconds=3))
    d = recorded.delivery
    assert recorded.changed
    assert (d.status, d.attempts, d.sends, d.first_recorded_at, d.sent_at) == (
        DeliveryStatus.SENT,
        2,
        1,
        T0,
        T0 + timedelta(seconds=3),
    )


async def test_a_failed_delivery_begins_again_keeping_what_it_added_up(deliveries: Deliveries) -> None:
    key = a_key()
    await deliveries.record(key, FAILED, channel=CHANNEL, at=T0)
    begun = await deliveries.begin(key, channel=CHANNEL, at=T0 + timedelta(hours=1))
    d = begun.delivery
    assert begun.changed
    assert (d.status, d.attempts, d.sends, d.first_recorded_at, d.recorded_at) == (
        DeliveryStatus.SENDING,
        5,
        1,
        T0,
        T0 + timedelta(hours=1),
    )
    begun_again = await deliveries.begin(key, channel=CHANNEL, at=T0 + timedelta(hours=2))  # after a crash
    assert begun_again.changed
    assert begun_again.delivery.status is DeliveryStatus.SENDING


async def test_a_sent_delivery_never_begins_again(deliveries: Deliveries) -> None:
    key = a_key()
    first = await deliveries.record(key, SENT, channel=CHANNEL, at=T0)
    again = await deliveries.begin(key, channel=CHANNEL, at=T0 + timedelta(minutes=5))
    assert (again.changed, again.delivery) == (False, first.delivery)
    assert await deliveries.find(key) == first.delivery


async def test_racing_records_of_one_send_change_the_record_once(deliveries: Deliveries) -> None:
    key = a_key()
    results = await asyncio.gather(*(deliveries.record(key, SENT, channel=CHANNEL, at=T0) for _ in range(6)))
    assert sorted(r.changed for r in results) == [False] * 5 + [True]
    stored = await deliveries.find(key)
    assert stored is not None
    assert stored.sends == 1
    assert {r.delivery for r in results} == {stored}


async def test_tenants_orders_and_channels_are_recorded_apart(deliveries: Deliveries) -> None:
    key = a_key()
    other_tenant = DeliveryKey("another-bakery", key.po_number, key.channel_key)
    drop = CHANNEL.model_copy(update={"target": FileDropTarget(directory="northern-mills")})
    other_channel = DeliveryKey(key.tenant_id, key.po_number, drop.key)
    await deliveries.record(key, SENT, channel=CHANNEL, at=T0)
    assert await deliveries.find(other_tenant) is None
    assert await deliveries.find(other_channel) is None
    recorded = await deliveries.record(other_channel, FAILED, channel=drop, at=T0)
    assert recorded.changed
    assert recorded.delivery.channel_kind == "file_drop"
    stored = await deliveries.find(key)
    assert stored is not None
    assert stored.status is DeliveryStatus.SENT
