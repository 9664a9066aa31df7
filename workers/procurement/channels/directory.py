"""Which channel each supplier takes its orders on (`procurement.supplier_channels`) and where each
tenant hears of its plans and alerts (`procurement.tenant_notifications`), in the caller's transaction
(`bakeplan channels set|list`, `bakeplan notify set|show`, the channels' consumers, the demo)."""

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from workers.procurement.channels.config import SupplierChannel, TenantNotifications
from workers.procurement.channels.tables import supplier_channels, tenant_notifications


async def save_channels(conn: AsyncConnection, channels: Sequence[SupplierChannel], *, at: datetime) -> None:
    """Set each supplier's channel, replacing the one it had (its next send uses the new one)."""
    if not channels:
        return
    rows = [
        {"tenant_id": c.tenant_id, "supplier_id": c.supplier_id, "channel": c.model_dump(mode="json"), "updated_at": at}
        for c in channels
    ]
    statement = insert(supplier_channels)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[supplier_channels.c.tenant_id, supplier_channels.c.supplier_id],
            set_={"channel": statement.excluded.channel, "updated_at": statement.excluded.updated_at},
        ),
        rows,
    )


async def channel_of(conn: AsyncConnection, tenant_id: str, supplier_id: str) -> SupplierChannel | None:
    """The supplier's channel, None when it has none. Raises `ValueError` naming the supplier when the
    stored channel no longer validates or names another tenant or supplier."""
    stored = (
        await conn.execute(
            select(supplier_channels.c.channel).where(
                supplier_channels.c.tenant_id == tenant_id, supplier_channels.c.supplier_id == supplier_id
            )
        )
    ).scalar_one_or_none()
    if stored is None:
        return None
    try:
        channel = SupplierChannel.model_validate(stored, strict=False)
    except ValidationError as exc:
        raise ValueError(
            f"tenant {tenant_id}: the channel stored for supplier {supplier_id} is invalid: {exc}"
        ) from exc
    if (channel.tenant_id, channel.supplier_id) != (tenant_id, supplier_id):
        raise ValueError(
            f"tenant {tenant_id}: the channel stored for supplier {supplier_id} names supplier "
            f"{channel.supplier_id} of tenant {channel.tenant_id}"
        )
    return channel


async def list_channels(conn: AsyncConnection, tenant_id: str | None) -> list[tuple[SupplierChannel, datetime]]:
    query = select(supplier_channels).order_by(supplier_channels.c.tenant_id, supplier_channels.c.supplier_id)
    if tenant_id is not None:
        query = query.where(supplier_channels.c.tenant_id == tenant_id)
    return [(SupplierChannel.model_validate(r.channel, strict=False), r.updated_at) for r in await conn.execute(query)]


async def save_notifications(conn: AsyncConnection, notifications: TenantNotifications, *, at: datetime) -> None:
    """Set the tenant's notification target, replacing the one it had."""
    statement = insert(tenant_notifications).values(
        tenant_id=notifications.tenant_id, notifications=notifications.model_dump(mode="json"), updated_at=at
    )
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[tenant_notifications.c.tenant_id],
            set_={"notifications": statement.excluded.notifications, "updated_at": statement.excluded.updated_at},
        )
    )


async def notifications_of(conn: AsyncConnection, tenant_id: str) -> tuple[TenantNotifications, datetime] | None:
    """The tenant's notification target and when it was set; None when it has none. Raises `ValueError`
    naming the tenant when the stored target no longer validates or names another tenant."""
    row = (
        await conn.execute(select(tenant_notifications).where(tenant_notifications.c.tenant_id == tenant_id))
    ).first()
    if row is None:
        return None
    try:
        found = TenantNotifications.model_validate(row.notifications, strict=False)
    except ValidationError as exc:
        raise ValueError(f"tenant {tenant_id}: the stored notification target is invalid: {exc}") from exc
    if found.tenant_id != tenant_id:
        raise ValueError(f"tenant {tenant_id}: the stored notification target names tenant {found.tenant_id}")
    return found, row.updated_at
