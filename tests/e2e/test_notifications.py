"""The bakery's notifications on the real stack (docs/channels.md, "Notifications"): with
`bakeplan serve --role channels` running, a daily plan's ready summary reaches the bakery's email (a
real aiosmtpd server) once, with the orders placed and their total; a `SagaFailedAlert` reaches another
bakery's webhook (a real HTTP server) signed, once, through a refusal that is retried, and the same
alert published again sends nothing more."""

import math
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator import masterdata as md
from tests.channels.smtp_inbox import Inbox, free_port, smtp_server
from tests.channels.verification import docs_verifier
from tests.channels.webhook_receiver import Reply, WebhookReceiver, webhook_server
from tests.channels.wiring import SENDER, SIGNING_KEY, SIGNING_KEY_NAME, channels_env
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, publish, seed, trigger, wait_terminal
from workers.procurement.channels.config import (
    EmailTarget,
    FileDropTarget,
    SupplierChannel,
    TenantNotifications,
    WebhookTarget,
)
from workers.procurement.channels.directory import save_channels, save_notifications
from workers.procurement.channels.pdf import money
from workers.purchase_orders.tables import purchase_orders

pytestmark = pytest.mark.e2e


async def _orders_of(engine: AsyncEngine, tenant_id: str, saga_id: UUID) -> tuple[int, float, str]:
    """The saga's orders: how many, their total in cents (summed exactly, as a sum of money is) and currency."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(purchase_orders.c.total, purchase_orders.c.currency).where(
                    purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.saga_id == saga_id
                )
            )
        ).all()
    return len(rows), round(math.fsum(r.total for r in rows), 2), min((r.currency for r in rows), default="")


async def test_a_ready_plan_reaches_the_bakerys_email_and_a_failed_saga_its_webhook_each_once(
    settings: Settings, engine: AsyncEngine, processes: Processes, tmp_path: Path
) -> None:
    mailed = f"n{uuid4().hex[:8]}-mail"
    hooked = f"n{uuid4().hex[:8]}-hook"
    await seed(engine, mailed, cold=True)  # no stock yet: it orders from many suppliers
    async with engine.begin() as conn:  # its suppliers take orders at any hour, so the due lines go out now
        await conn.execute(update(md.suppliers).where(md.suppliers.c.tenant_id == mailed).values(order_cutoff=None))
        suppliers = list(
            (await conn.execute(select(md.suppliers.c.supplier_id).where(md.suppliers.c.tenant_id == mailed))).scalars()
        )
        # the orders themselves go by file drop, so the bakery's mailbox holds only its notifications
        await save_channels(
            conn,
            [SupplierChannel(tenant_id=mailed, supplier_id=s, target=FileDropTarget(directory=s)) for s in suppliers],
            at=datetime.now(UTC),
        )

    drop_root = tmp_path / "drop"
    drop_root.mkdir()
    inbox = Inbox(port=free_port())
    # the bakery's endpoint refuses the first request (503): the send is retried
    with smtp_server(inbox), webhook_server(WebhookReceiver(script=[Reply(status=503)])) as receiver:
        async with engine.begin() as conn:
            target = EmailTarget(to=(f"baker@{mailed}.example",))
            await save_notifications(conn, TenantNotifications(tenant_id=mailed, target=target), at=datetime.now(UTC))
            hook = WebhookTarget(url=receiver.url, signing_key_name=SIGNING_KEY_NAME)
            await save_notifications(conn, TenantNotifications(tenant_id=hooked, target=hook), at=datetime.now(UTC))
        for supplier in suppliers:
            (drop_root / supplier).mkdir()
        channels = Processes(settings, tmp_path, env=channels_env(smtp_port=inbox.port, drop_root=drop_root))
        channels.start("channels")
        try:
            saga_id = await trigger(settings, mailed)
            row = await wait_terminal(engine, saga_id)
            assert row["status"] == "COMPLETED", row["reason"]
            orders, total, currency = await _orders_of(engine, mailed, saga_id)
            assert orders > 0, "the cold tenant's plan released no orders"

            # plan ready → the bakery's email: one message, its Message-ID from the event, orders and total
            def mails() -> list[EmailMessage]:
                return [r.message for r in inbox.received if r.rcpt_tos == (f"baker@{mailed}.example",)]

            async def mailed_once() -> list[EmailMessage] | None:
                return mails() or None

            first = (await eventually(mailed_once, timeout_s=60, what=f"the plan-ready email of {mailed}"))[0]
            placed = f"{orders} purchase order{'s' if orders != 1 else ''} placed ({money(total, currency)})"
            assert str(first["Subject"]).startswith(f"Plan ready for {TODAY.isoformat()}: {placed}")
            assert f"Orders placed: {placed}" in first.get_content()
            assert str(first["Message-ID"]).startswith("<notice.")
            assert str(first["Message-ID"]).endswith(f"@{SENDER.rpartition('@')[2]}>")

            # a failed saga → the other bakery's webhook, signed, Idempotency-Key = the event id; published
            # twice, then a second alert: Kafka keeps one tenant's records in order, so once the second is
            # sent the repeat of the first was handled too
            alert = SagaFailedAlert(
                event_id=uuid4(), tenant_id=hooked, saga_id=uuid4(), occurred_at=datetime.now(UTC),
                reason="compensation of procurement failed: the release could not be undone",
            )  # fmt: skip
            later = alert.model_copy(update={"event_id": uuid4(), "reason": "a second failure"})
            for message in (alert, alert, later):
                await publish(settings, Topic.ALERTS, encode(message), key=hooked.encode())

            async def both_sent() -> dict[str, object] | None:
                kept = receiver.accepted()
                return dict(kept) if str(later.event_id) in kept else None

            kept = await eventually(both_sent, timeout_s=60, what=f"the saga-failed alerts of {hooked}")
            assert sorted(kept) == sorted([str(alert.event_id), str(later.event_id)])
            keys = [r.headers["idempotency-key"] for r in receiver.requests]
            assert keys == [str(alert.event_id), str(alert.event_id), str(later.event_id)]  # 503, retried, next
            assert receiver.answers == [503, 200, 200]
            verifies = docs_verifier()
            for request in receiver.requests:
                assert verifies(request.headers["bakeplan-signature"], request.body, SIGNING_KEY.encode())
            body = receiver.accepted()[str(alert.event_id)].body
            assert b'"kind":"saga_failed"' in body
            assert b"the release could not be undone" in body

            # each once: the plan-ready email was not sent again meanwhile
            assert len(mails()) == 1
        finally:
            channels.stop_all()
