"""The wired supplier channels under faults, on the real stack: `bakeplan serve --role channels` as an OS
process on real Kafka and Postgres, a real SMTP server (aiosmtpd), real HTTP servers and a temp drop
directory started by the test. Orders are released as the release step does (rows `released`, then
`OrderReleased` on the orders topic), so each test drives the channel path alone.

- the SMTP relay down longer than the retries last: `send_failed`, an `OrderSendFailed` alert; the relay
  back, `bakeplan orders resend` sends it, once;
- a webhook answering 500, then not in time (the supplier got it), then 200: sent, recorded once, and
  the supplier's dedupe by Idempotency-Key keeps one; a webhook answering 500 for good: `send_failed`;
- the process SIGKILLed between sending and recording: the delivery is left `sending`; on restart the
  order is sent again (at least once), the supplier keeps one, the record and history say `sent` once.
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import ids
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import OrderReleased, OrderSendFailed
from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.codec import decode, encode
from infra.settings import Settings
from lab.purchase_orders import a_purchase_order
from tests.channels.smtp_inbox import Inbox, free_port, smtp_server
from tests.channels.webhook_receiver import Reply, WebhookReceiver, webhook_server
from tests.channels.wiring import SENDER, SIGNING_KEY_NAME, channels_env, order_record
from tests.e2e.processes import Processes
from tests.e2e.support import eventually, publish, read_topic, seed
from workers.procurement.channels.config import EmailTarget, FileDropTarget, SupplierChannel, WebhookTarget
from workers.procurement.channels.directory import save_channels
from workers.procurement.channels.documents import file_stem, message_id
from workers.procurement.send_handler import AFTER_SEND
from workers.purchase_orders import store

pytestmark = pytest.mark.faults
QUICK_FAILOVER = {"BAKEPLAN_SESSION_TIMEOUT_MS": "6000", "BAKEPLAN_HEARTBEAT_INTERVAL_MS": "1000"}
RELEASED = [(None, "released", "release")]


@pytest.fixture
async def engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def tenant(engine: AsyncEngine) -> str:
    tenant_id = f"f{uuid4().hex[:8]}-channels"
    await seed(engine, tenant_id)
    return tenant_id


def an_order(tenant_id: str, supplier_id: str) -> PurchaseOrder:
    return a_purchase_order(
        po_number=f"PO-F-{uuid4().hex[:8].upper()}",
        tenant_id=tenant_id,
        supplier_id=supplier_id,
        supplier_name=f"Supplier {supplier_id}",
    )


async def release(
    settings: Settings, engine: AsyncEngine, orders: Sequence[tuple[PurchaseOrder, SupplierChannel]]
) -> None:
    """Configure each order's channel and release the orders as the release step does: the rows
    `released`, then one `OrderReleased` each on the orders topic (in this order: one partition)."""
    saga_id = uuid4()
    async with engine.begin() as conn:
        await save_channels(conn, [channel for _, channel in orders], at=datetime.now(UTC))
        await store.insert_released(conn, [order for order, _ in orders], saga_id=saga_id, at=datetime.now(UTC))
    for order, _ in orders:
        event = OrderReleased(
            event_id=ids.order_event_id(order.po_number, order.tenant_id, "released"),
            tenant_id=order.tenant_id,
            saga_id=saga_id,
            occurred_at=datetime.now(UTC),
            purchase_order=order,
        )
        await publish(settings, Topic.PURCHASE_ORDERS, encode(event), key=order.tenant_id.encode())


async def status_is(engine: AsyncEngine, order: PurchaseOrder, wanted: str, *, timeout_s: float = 60) -> None:
    async def probe() -> bool | None:
        return True if (await order_record(engine, order.tenant_id, order.po_number)).status == wanted else None

    await eventually(probe, timeout_s=timeout_s, what=f"{order.po_number} to be {wanted}")


def hook(tenant_id: str, supplier_id: str, url: str) -> SupplierChannel:
    target = WebhookTarget(url=url, signing_key_name=SIGNING_KEY_NAME)
    return SupplierChannel(tenant_id=tenant_id, supplier_id=supplier_id, target=target)


def channels(settings: Settings, log_dir: Path, env: dict[str, str]) -> Processes:
    sender = Processes(settings, log_dir, env={**env, **QUICK_FAILOVER})
    sender.start("channels")
    return sender


async def alert_of(settings: Settings, order: PurchaseOrder) -> OrderSendFailed:
    found = await read_topic(
        settings,
        Topic.ALERTS,
        lambda r: r.key == order.tenant_id.encode() and order.po_number.encode() in r.value,
        timeout_s=30,
    )
    alert = decode(found[0].value)
    assert isinstance(alert, OrderSendFailed)
    return alert


async def test_smtp_down_longer_than_the_retries_flags_send_failed_then_a_resend_sends_it_once(
    settings: Settings, engine: AsyncEngine, tenant: str, tmp_path: Path
) -> None:
    inbox = Inbox(port=free_port())  # nothing listens on it yet: the relay is down
    order = an_order(tenant, "S001")
    channel = SupplierChannel(tenant_id=tenant, supplier_id="S001", target=EmailTarget(to=("orders@s001.example",)))
    env = channels_env(smtp_port=inbox.port, drop_root=tmp_path, attempts=3)
    sender = channels(settings, tmp_path, env)
    sender.start("orchestrator")  # publishes the resend (its outbox)
    try:
        await release(settings, engine, [(order, channel)])
        await status_is(engine, order, "send_failed")
        record = await order_record(engine, tenant, order.po_number)
        assert [(d["status"], d["attempts"], d["sends"], d["permanent"]) for d in record.deliveries] == [
            ("send_failed", 3, 1, False)
        ]
        assert "127.0.0.1" in record.deliveries[0]["last_error"]
        assert record.history == [*RELEASED, ("released", "send_failed", "channel")]
        alert = await alert_of(settings, order)
        assert (alert.po_number, alert.supplier_id, alert.attempts, alert.permanent) == (
            order.po_number,
            "S001",
            3,
            False,
        )
        assert alert.channel == "email orders@s001.example"

        with smtp_server(inbox):  # the relay is back
            resend = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bakeplan", "orders", "resend", order.po_number, "--tenant", tenant],
                env={
                    **os.environ,
                    "BAKEPLAN_DATABASE_URL": settings.database_url,
                    "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
                    "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
                },
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert resend.returncode == 0, resend.stderr
            assert "send_failed → released" in resend.stdout
            await status_is(engine, order, "sent")
            domain = SENDER.rpartition("@")[2]
            assert [str(r.message["Message-ID"]) for r in inbox.received] == [message_id(order, domain)]
        record = await order_record(engine, tenant, order.po_number)
        assert [(d["status"], d["attempts"], d["sends"]) for d in record.deliveries] == [("sent", 4, 2)]
        assert record.history == [
            *RELEASED,
            ("released", "send_failed", "channel"),
            ("send_failed", "released", "operator"),
            ("released", "sent", "channel"),
        ]
    finally:
        sender.stop_all()


async def test_a_webhook_answering_500_then_too_late_is_retried_and_kept_once_or_flagged(
    settings: Settings, engine: AsyncEngine, tenant: str, tmp_path: Path
) -> None:
    flaky = WebhookReceiver(script=[Reply(status=500), Reply(hang_seconds=3.0)])  # then 200
    down = WebhookReceiver(then=Reply(status=500))
    with webhook_server(flaky), webhook_server(down):
        recovers, fails = an_order(tenant, "S001"), an_order(tenant, "S002")
        hooks = [(recovers, hook(tenant, "S001", flaky.url)), (fails, hook(tenant, "S002", down.url))]
        sender = channels(settings, tmp_path, channels_env(smtp_port=free_port(), drop_root=tmp_path, attempts=3))
        try:
            await release(settings, engine, hooks)
            await status_is(engine, recovers, "sent")
            await status_is(engine, fails, "send_failed")
        finally:
            sender.stop_all()
    # the supplier got the order three times, the second one too (its answer came after the sender's
    # 1.5 s timeout), and keeps one by the Idempotency-Key
    assert [r.headers["idempotency-key"] for r in flaky.requests] == [recovers.po_number] * 3
    assert flaky.answers == [500, 200, 200]
    assert list(flaky.accepted()) == [recovers.po_number]
    record = await order_record(engine, tenant, recovers.po_number)
    assert [(d["status"], d["attempts"], d["sends"]) for d in record.deliveries] == [("sent", 3, 1)]
    assert record.history == [*RELEASED, ("released", "sent", "channel")]

    assert len(down.requests) == 3
    assert down.accepted() == {}
    record = await order_record(engine, tenant, fails.po_number)
    assert [(d["status"], d["attempts"], d["sends"]) for d in record.deliveries] == [("send_failed", 3, 1)]
    assert "500" in record.deliveries[0]["last_error"]
    assert record.history == [*RELEASED, ("released", "send_failed", "channel")]
    assert (await alert_of(settings, fails)).attempts == 3


async def test_a_process_killed_between_sending_and_recording_sends_again_and_records_once(
    settings: Settings, engine: AsyncEngine, tenant: str, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    drop_root = tmp_path / "drop"
    (drop_root / "S002").mkdir(parents=True)
    crash_log = tmp_path / "crash.log"
    with webhook_server(receiver):
        killed, after = an_order(tenant, "S001"), an_order(tenant, "S002")
        dropped = SupplierChannel(tenant_id=tenant, supplier_id="S002", target=FileDropTarget(directory="S002"))
        orders = [(killed, hook(tenant, "S001", receiver.url)), (after, dropped)]
        env = channels_env(smtp_port=free_port(), drop_root=drop_root)
        (tmp_path / "first").mkdir()
        armed = {**env, "BAKEPLAN_CRASH_AT": AFTER_SEND, "BAKEPLAN_CRASH_LOG": str(crash_log)}
        crashing = channels(settings, tmp_path / "first", armed)
        try:
            await release(settings, engine, orders)

            async def crashed() -> bool | None:
                return True if crash_log.exists() and AFTER_SEND in crash_log.read_text() else None

            await eventually(crashed, timeout_s=60, what="the channels process to kill itself after the send")
            proc = crashing.procs["channels-1"]
            assert proc.wait(timeout=30) == -9  # SIGKILL: no cleanup, like a power cut
            # sent, not recorded: the supplier has it, the record says `sending`, the order is `released`
            assert [r.headers["idempotency-key"] for r in receiver.requests] == [killed.po_number]
            record = await order_record(engine, tenant, killed.po_number)
            assert (record.status, [d["status"] for d in record.deliveries]) == ("released", ["sending"])
            assert record.history == RELEASED
        finally:
            crashing.procs.clear()  # it is gone already
        (tmp_path / "second").mkdir()
        restarted = channels(settings, tmp_path / "second", env)
        try:
            await status_is(engine, killed, "sent")
            await status_is(engine, after, "sent")
        finally:
            restarted.stop_all()
    # at least once on the wire: the order went out again after the restart; the supplier keeps one
    assert [r.headers["idempotency-key"] for r in receiver.requests] == [killed.po_number] * 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert list(receiver.accepted()) == [killed.po_number]
    # exactly once in the record and the order's history
    record = await order_record(engine, tenant, killed.po_number)
    assert [(d["status"], d["sends"], d["attempts"]) for d in record.deliveries] == [("sent", 1, 1)]
    assert record.history == [*RELEASED, ("released", "sent", "channel")]
    # the order after it was sent once, as a file named by its PO number
    assert [p.name for p in (drop_root / "S002").iterdir()] == [f"{file_stem(after)}.csv"]
    record = await order_record(engine, tenant, after.po_number)
    assert [(d["status"], d["sends"]) for d in record.deliveries] == [("sent", 1)]
