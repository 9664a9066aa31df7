"""Supplier channels on the real stack: a daily plan's released orders reach their suppliers through
`bakeplan serve --role channels`, by email to a real SMTP server (aiosmtpd), by signed webhook to a
real HTTP server, and as CSV files in a directory, each exactly once; every order ends `sent`, its
history says `released → sent` once, by the channel. The same event again and the order published
anew under another id send nothing more."""

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import ids
from contracts.purchasing import PurchaseOrder
from contracts.purchasing_messages import OrderReleased
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator import masterdata as md
from tests.channels.smtp_inbox import Inbox, free_port, smtp_server
from tests.channels.verification import docs_verifier
from tests.channels.webhook_receiver import WebhookReceiver, webhook_server
from tests.channels.wiring import SENDER, SIGNING_KEY, SIGNING_KEY_NAME, channel_effects, channels_env, order_record
from tests.e2e.processes import Processes
from tests.e2e.support import eventually, publish, seed, trigger, wait_terminal
from workers.procurement.channels.config import EmailTarget, FileDropTarget, SupplierChannel, WebhookTarget
from workers.procurement.channels.directory import save_channels
from workers.procurement.channels.documents import file_stem, message_id
from workers.purchase_orders.tables import purchase_orders

pytestmark = pytest.mark.e2e
KINDS = ("email", "webhook", "file_drop")


async def _released(engine: AsyncEngine, tenant_id: str) -> list[PurchaseOrder]:
    async with engine.connect() as conn:
        documents = (
            await conn.execute(
                select(purchase_orders.c.document)
                .where(purchase_orders.c.tenant_id == tenant_id)
                .order_by(purchase_orders.c.po_number)
            )
        ).scalars()
        return [PurchaseOrder.model_validate(d, strict=False) for d in documents]


def _channel(order: PurchaseOrder, kind: str, receiver: WebhookReceiver) -> SupplierChannel:
    target: EmailTarget | WebhookTarget | FileDropTarget
    if kind == "email":
        target = EmailTarget(to=(f"orders@{order.supplier_id.lower()}.example",))
    elif kind == "webhook":
        target = WebhookTarget(url=receiver.url, signing_key_name=SIGNING_KEY_NAME)
    else:
        target = FileDropTarget(directory=order.supplier_id)
    return SupplierChannel(tenant_id=order.tenant_id, supplier_id=order.supplier_id, target=target)


async def test_a_plans_orders_reach_each_channel_once_and_are_recorded_sent(
    settings: Settings, engine: AsyncEngine, processes: Processes, tmp_path: Path
) -> None:
    tenant_id = f"c{uuid4().hex[:8]}-channels"
    await seed(engine, tenant_id, cold=True)  # no stock yet: it orders from many suppliers
    async with engine.begin() as conn:  # its suppliers take orders at any hour, so the due lines go out now
        await conn.execute(update(md.suppliers).where(md.suppliers.c.tenant_id == tenant_id).values(order_cutoff=None))
    row = await wait_terminal(engine, await trigger(settings, tenant_id))
    assert row["status"] == "COMPLETED", row["reason"]
    orders = await _released(engine, tenant_id)
    suppliers = sorted({o.supplier_id for o in orders})
    assert len(suppliers) >= len(KINDS), f"the plan released orders to {suppliers}: too few to use every channel"
    kind_of = {supplier: KINDS[n % len(KINDS)] for n, supplier in enumerate(suppliers)}

    drop_root = tmp_path / "drop"
    inbox = Inbox(port=free_port())
    with smtp_server(inbox), webhook_server(WebhookReceiver()) as receiver:
        channels = {o.supplier_id: _channel(o, kind_of[o.supplier_id], receiver) for o in orders}
        for supplier, kind in kind_of.items():
            if kind == "file_drop":
                (drop_root / supplier).mkdir(parents=True)
        async with engine.begin() as conn:
            await save_channels(conn, list(channels.values()), at=datetime.now(UTC))
        sender = Processes(settings, tmp_path, env=channels_env(smtp_port=inbox.port, drop_root=drop_root))
        sender.start("channels")  # after the release: it catches up on the orders topic
        try:

            async def all_sent() -> bool | None:
                statuses = [(await order_record(engine, tenant_id, o.po_number)).status for o in orders]
                return True if all(s == "sent" for s in statuses) else None

            await eventually(all_sent, timeout_s=60, what=f"the {len(orders)} orders of {tenant_id} to be sent")
            by_kind = {k: [o for o in orders if kind_of[o.supplier_id] == k] for k in KINDS}

            # email: one message per order, its Message-ID from the PO number, the PO attached as PDF and CSV
            domain = SENDER.rpartition("@")[2]
            assert sorted(str(r.message["Message-ID"]) for r in inbox.received) == sorted(
                message_id(o, domain) for o in by_kind["email"]
            )
            for order in by_kind["email"]:
                received = inbox.orders()[message_id(order, domain)]
                assert received.rcpt_tos == (f"orders@{order.supplier_id.lower()}.example",)
                assert order.po_number in received.attachment(f"{file_stem(order)}.csv").decode()
                assert received.attachment(f"{file_stem(order)}.pdf").startswith(b"%PDF")
            # webhook: one signed request per order, Idempotency-Key = PO number, body = the order
            verifies = docs_verifier()
            assert sorted(r.headers["idempotency-key"] for r in receiver.requests) == sorted(
                o.po_number for o in by_kind["webhook"]
            )
            for request in receiver.requests:
                assert verifies(request.headers["bakeplan-signature"], request.body, SIGNING_KEY.encode())
                assert PurchaseOrder.model_validate_json(request.body).po_number == request.headers["idempotency-key"]
            # file drop: one CSV per order, named by its PO number
            dropped = sorted(str(p.relative_to(drop_root)) for p in drop_root.rglob("*") if p.is_file())
            assert dropped == sorted(f"{o.supplier_id}/{file_stem(o)}.csv" for o in by_kind["file_drop"])

            for order in orders:
                record = await order_record(engine, tenant_id, order.po_number)
                assert [(d["status"], d["sends"], d["attempts"]) for d in record.deliveries] == [("sent", 1, 1)]
                assert record.deliveries[0]["channel_key"] == channels[order.supplier_id].key
                assert record.history == [(None, "released", "release"), ("released", "sent", "channel")]

            # the same event again (a redelivery) and the order published anew (another dispatcher's
            # duplicate): neither sends anything; Kafka keeps one tenant's records in order, so once the
            # second is handled the first was too
            first = {k: v[0] for k, v in by_kind.items()}
            duplicates: list[OrderReleased] = []
            for order in first.values():
                event_id = ids.order_event_id(order.po_number, tenant_id, "released")
                again = OrderReleased(
                    event_id=event_id,
                    tenant_id=tenant_id,
                    saga_id=UUID(str(row["saga_id"])),
                    occurred_at=datetime.now(UTC),
                    purchase_order=order,
                )
                anew = again.model_copy(update={"event_id": uuid4()})
                duplicates.append(anew)
                for message in (again, anew):
                    await publish(settings, Topic.PURCHASE_ORDERS, encode(message), key=tenant_id.encode())

            async def handled() -> dict[str, int] | None:
                effects = await channel_effects(engine, [d.event_id for d in duplicates])
                return effects if sum(effects.values()) == len(duplicates) else None

            effects = await eventually(handled, timeout_s=30, what="the re-published orders to be handled")
            assert effects == {"not_sent": len(duplicates)}
            assert len(inbox.received) == len(by_kind["email"])
            assert len(receiver.requests) == len(by_kind["webhook"])
            assert len([p for p in drop_root.rglob("*") if p.is_file()]) == len(by_kind["file_drop"])
            for order in first.values():
                record = await order_record(engine, tenant_id, order.po_number)
                assert [(d["status"], d["sends"]) for d in record.deliveries] == [("sent", 1)]
                assert record.history == [(None, "released", "release"), ("released", "sent", "channel")]
        finally:
            sender.stop_all()
