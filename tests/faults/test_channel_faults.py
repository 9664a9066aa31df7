"""Supplier channels under faults, with the real SMTP and HTTP servers started in the test and the
delivery records in Postgres: a relay down longer than the retries, then back; a webhook answering
500, then not in time, then 200; a 400; a crash between sending and recording; two replicas racing.
Each checks what the supplier got and what the record says: sent at least once, recorded once."""

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import create_engine
from infra.settings import Settings
from lab.purchase_orders import a_purchase_order
from tests.channels.deliveries_schema import private_deliveries_table
from tests.channels.smtp_inbox import Inbox, free_port, smtp_server
from tests.channels.verification import docs_verifier
from tests.channels.webhook_receiver import Reply, WebhookReceiver, webhook_server
from workers.procurement.channels import (
    ChannelSettings,
    DeliveryKey,
    DeliveryStatus,
    Dispatcher,
    EmailTarget,
    Recorded,
    RetryPolicy,
    Sender,
    SendOutcome,
    SupplierChannel,
    WebhookTarget,
)
from workers.procurement.channels.documents import message_id
from workers.procurement.channels.postgres import PostgresDeliveries

pytestmark = pytest.mark.faults
QUICK = RetryPolicy(attempts=3, base_seconds=0.2, max_seconds=0.4, attempt_timeout_seconds=1.5)
KEY = "northern-mills-key"


@dataclass
class Records:
    """The delivery records of one test, in a private copy of the table."""

    engine: AsyncEngine
    table: Table

    def adapter(self) -> PostgresDeliveries:
        """A replica's own adapter (each call its own transaction)."""
        return PostgresDeliveries(self.engine, table=self.table)

    async def rows(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(self.table)) or 0)


@pytest.fixture
async def records(db_settings: Settings) -> AsyncIterator[Records]:
    engine = create_engine(db_settings)
    try:
        async with private_deliveries_table(engine) as table:
            yield Records(engine, table)
    finally:
        await engine.dispose()


def sender(policy: RetryPolicy = QUICK, **settings: object) -> Sender:
    return Sender(ChannelSettings(**settings), policy=policy, rng=random.Random(11))  # type: ignore[arg-type]


def webhook(url: str) -> SupplierChannel:
    return SupplierChannel(
        tenant_id="mill-lane", supplier_id="northern-mills", target=WebhookTarget(url=url, signing_key_name="nm")
    )


def webhook_sender(policy: RetryPolicy = QUICK) -> Sender:
    return sender(policy, webhook_signing_keys={"nm": SecretStr(KEY)})


def supplier_orders(receiver: WebhookReceiver) -> set[str]:
    """What the supplier books: one order per Idempotency-Key among the requests whose signature holds."""
    verifies = docs_verifier()
    signed = [r for r in receiver.requests if verifies(r.headers["bakeplan-signature"], r.body, KEY.encode())]
    assert len(signed) == len(receiver.requests), "every request the sender made is signed"
    return {r.headers["idempotency-key"] for r in signed}


async def test_a_relay_down_longer_than_the_retries_fails_the_send_and_a_later_dispatch_sends_it(
    records: Records,
) -> None:
    port, order = free_port(), a_purchase_order()
    channel = SupplierChannel(
        tenant_id="mill-lane", supplier_id="northern-mills", target=EmailTarget(to=("orders@northern-mills.example",))
    )
    dispatcher = Dispatcher(
        records.adapter(),
        sender(smtp_host="127.0.0.1", smtp_port=port, smtp_security="none", smtp_from="orders@mill-lane.example").send,
    )
    started = time.monotonic()
    down = await dispatcher.dispatch(order, channel)  # nothing listens on the port
    assert time.monotonic() - started >= QUICK.base_seconds / 2 + QUICK.base_seconds  # it waited between attempts
    assert (down.delivery.status, down.delivery.attempts, down.delivery.permanent, down.recorded) == (
        DeliveryStatus.SEND_FAILED,
        QUICK.attempts,
        False,
        True,
    )
    assert "unreachable" in (down.delivery.last_error or "")

    with smtp_server(Inbox(port)) as inbox:  # the relay is back
        up = await dispatcher.dispatch(order, channel)
        again = await dispatcher.dispatch(order, channel)
    assert (up.delivery.status, up.delivery.attempts, up.delivery.sends, up.recorded) == (
        DeliveryStatus.SENT,
        QUICK.attempts + 1,
        2,
        True,
    )
    assert (again.outcome, again.recorded) == (None, False)
    assert [m.message["Message-ID"] for m in inbox.received] == [message_id(order, "mill-lane.example")]
    assert await records.rows() == 1


async def test_a_webhook_answering_500_then_late_then_200_is_recorded_sent_once(records: Records) -> None:
    order = a_purchase_order()
    script = [Reply(status=500, body=b"database down"), Reply(status=200, hang_seconds=5), Reply(status=200)]
    with webhook_server(WebhookReceiver(script=script)) as receiver:
        dispatcher = Dispatcher(records.adapter(), webhook_sender().send)
        first = await dispatcher.dispatch(order, webhook(receiver.url))
        second = await dispatcher.dispatch(order, webhook(receiver.url))
    assert first.outcome is not None
    assert first.outcome.attempts == 3
    d = first.delivery
    assert (d.status, d.attempts, d.sends, d.receipt, d.last_error, first.recorded) == (
        DeliveryStatus.SENT,
        3,
        1,
        "HTTP 200 OK",
        None,
        True,
    )
    assert (second.outcome, second.recorded, second.delivery) == (None, False, d)
    assert len(receiver.requests) == 3  # the late attempt reached the supplier too
    assert len({r.body for r in receiver.requests}) == 1
    assert supplier_orders(receiver) == {order.po_number}  # deduped by Idempotency-Key: one order booked
    stored = await records.adapter().find(DeliveryKey.of(order, webhook(receiver.url)))
    assert stored == d
    assert await records.rows() == 1


async def test_a_webhook_answering_400_fails_at_once(records: Records) -> None:
    order, slow_retries = a_purchase_order(), RetryPolicy(attempts=5, base_seconds=10, max_seconds=10)
    with webhook_server(WebhookReceiver(then=Reply(status=400, body=b'{"error": "unknown article"}'))) as receiver:
        dispatcher = Dispatcher(records.adapter(), webhook_sender(slow_retries).send)
        started = time.monotonic()
        result = await dispatcher.dispatch(order, webhook(receiver.url))
        took = time.monotonic() - started
    assert took < slow_retries.base_seconds / 2  # no backoff wait happened
    d = result.delivery
    assert (d.status, d.attempts, d.permanent, len(receiver.requests)) == (DeliveryStatus.SEND_FAILED, 1, True, 1)
    assert "HTTP 400" in (d.last_error or "")
    assert "unknown article" in (d.last_error or "")


class DiesBeforeRecording(PostgresDeliveries):
    """The process is killed after the supplier took the order, before the record commits."""

    async def record(self, *args: object, **kwargs: object) -> Recorded:
        raise SystemExit("killed between sending and recording")


async def test_a_crash_between_sending_and_recording_sends_again_on_restart_and_records_once(records: Records) -> None:
    order = a_purchase_order()
    with webhook_server(WebhookReceiver()) as receiver:
        channel = webhook(receiver.url)
        dying = Dispatcher(DiesBeforeRecording(records.engine, table=records.table), webhook_sender().send)
        with pytest.raises(SystemExit):
            await dying.dispatch(order, channel)
        assert await records.rows() == 0
        assert len(receiver.requests) == 1
        restarted = await Dispatcher(records.adapter(), webhook_sender().send).dispatch(order, channel)
    assert len(receiver.requests) == 2  # at least once: sent again after the restart
    assert supplier_orders(receiver) == {order.po_number}  # and booked once by the supplier
    assert (restarted.delivery.status, restarted.delivery.sends, restarted.recorded) == (DeliveryStatus.SENT, 1, True)
    assert await records.rows() == 1


async def test_two_replicas_racing_on_one_order_record_it_once(records: Records) -> None:
    order = a_purchase_order()
    both_arrived = Reply(status=200, after_requests=2)  # neither answer before both replicas sent
    with webhook_server(WebhookReceiver(then=both_arrived)) as receiver:
        replicas = [Dispatcher(records.adapter(), webhook_sender().send) for _ in range(2)]
        results = await asyncio.gather(*(r.dispatch(order, webhook(receiver.url)) for r in replicas))
    outcomes: list[SendOutcome | None] = [r.outcome for r in results]
    assert all(o is not None and o.sent for o in outcomes)
    assert len(receiver.requests) == 2
    assert sorted(r.recorded for r in results) == [False, True]
    assert results[0].delivery == results[1].delivery
    assert results[0].delivery.sends == 1
    assert await records.rows() == 1
