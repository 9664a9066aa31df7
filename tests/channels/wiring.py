"""What the tests of the wired channels share: the channels process's environment for the test's own
SMTP server, webhook receiver and drop directory, and reading back what the record says of an order."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from workers.procurement.channels.tables import po_deliveries
from workers.procurement.send_handler import CONSUMER
from workers.procurement.tables import effect_log
from workers.purchase_orders.tables import purchase_order_history, purchase_orders

SIGNING_KEY_NAME = "supplier-hook"
SIGNING_KEY = "a-test-signing-key-of-the-supplier"
SENDER = "orders@bakery.example"


def channels_env(*, smtp_port: int, drop_root: Path, attempts: int = 3, timeout_s: float = 1.5) -> dict[str, str]:
    """The channels process's settings: the test's SMTP server (plain, on loopback), the signing key,
    the drop root, and a quick retry policy (base 0.3 s, max 0.6 s)."""
    return {
        "BAKEPLAN_SMTP_HOST": "127.0.0.1",
        "BAKEPLAN_SMTP_PORT": str(smtp_port),
        "BAKEPLAN_SMTP_SECURITY": "none",
        "BAKEPLAN_SMTP_FROM": SENDER,
        "BAKEPLAN_WEBHOOK_SIGNING_KEYS": f'{{"{SIGNING_KEY_NAME}": "{SIGNING_KEY}"}}',
        "BAKEPLAN_FILE_DROP_ROOT": str(drop_root),
        "BAKEPLAN_SEND_ATTEMPTS": str(attempts),
        "BAKEPLAN_SEND_BACKOFF_BASE_SECONDS": "0.3",
        "BAKEPLAN_SEND_BACKOFF_MAX_SECONDS": "0.6",
        "BAKEPLAN_SEND_TIMEOUT_SECONDS": str(timeout_s),
    }


@dataclass(frozen=True)
class OrderRecord:
    status: str
    deliveries: list[dict[str, Any]]
    history: list[tuple[str | None, str, str]]
    """(from, to, source) per history row, in order."""


async def order_record(engine: AsyncEngine, tenant_id: str, po_number: str) -> OrderRecord:
    async with engine.connect() as conn:
        status = (
            await conn.execute(
                select(purchase_orders.c.status).where(
                    purchase_orders.c.tenant_id == tenant_id, purchase_orders.c.po_number == po_number
                )
            )
        ).scalar_one()
        deliveries = [
            dict(r)
            for r in (
                await conn.execute(
                    select(po_deliveries).where(
                        po_deliveries.c.tenant_id == tenant_id, po_deliveries.c.po_number == po_number
                    )
                )
            ).mappings()
        ]
        history = [
            (r.from_status, r.to_status, r.source)
            for r in await conn.execute(
                select(purchase_order_history)
                .where(purchase_order_history.c.tenant_id == tenant_id, purchase_order_history.c.po_number == po_number)
                .order_by(purchase_order_history.c.id)
            )
        ]
    return OrderRecord(status, deliveries, history)


async def channel_effects(engine: AsyncEngine, event_ids: list[Any]) -> dict[str, int]:
    """The channels consumer's effect-log rows of these events, counted by kind."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(effect_log.c.kind, func.count())
            .where(effect_log.c.consumer == CONSUMER, effect_log.c.event_id.in_(event_ids))
            .group_by(effect_log.c.kind)
        )
        return {kind: int(n) for kind, n in rows}
