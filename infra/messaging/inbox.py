"""Idempotent inbox: a consumer claims an event id in the same transaction as the effect."""

from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection


async def claim(session: AsyncConnection, inbox: Table, *, consumer: str, event_id: UUID) -> bool:
    """True the first time `consumer` sees `event_id`; False for a redelivery (do nothing then)."""
    result = await session.execute(
        insert(inbox).values(consumer=consumer, event_id=event_id).on_conflict_do_nothing().returning(inbox.c.event_id)
    )
    return result.first() is not None
