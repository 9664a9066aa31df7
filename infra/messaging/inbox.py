"""Idempotent inbox: a consumer claims an event id in the same transaction as the effect.

A claim is bound to the tenant and the content (docs/security.md, "Tenant binding"): the key is
(consumer, event_id, tenant_id), so a message naming another tenant never occupies this tenant's id,
and the claim keeps the content's digest, so the same id with other content is refused
(`TenantBindingError`, parked) instead of being taken for a duplicate.
"""

from uuid import UUID

from sqlalchemy import Table, and_, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.errors import TenantBindingError

LEGACY_TENANT = ""
"""`tenant_id` of claims made before migration 0012 (bound to neither tenant nor content)."""


def conflict(consumer: str, event_id: UUID, tenant_id: str) -> TenantBindingError:
    return TenantBindingError(
        f"{consumer}: event {event_id} of tenant {tenant_id!r} was already taken with other content; "
        "the same event id must carry the same message (a re-send), a new message needs a new id",
        kind="inbox_conflict",
    )


async def claim(
    session: AsyncConnection,
    inbox: Table,
    *,
    consumer: str,
    event_id: UUID,
    tenant_id: str = LEGACY_TENANT,
    digest: str | None = None,
) -> bool:
    """True the first time `consumer` sees `event_id` for `tenant_id`; False for a redelivery of the same
    content (do nothing then). Raises `TenantBindingError` when the id was claimed with another `digest`."""
    c = inbox.c
    legacy = select(literal(1)).where(
        and_(c.consumer == consumer, c.event_id == event_id, c.tenant_id == LEGACY_TENANT)
    )
    row = select(literal(consumer), literal(event_id), literal(tenant_id), literal(digest)).where(~legacy.exists())
    result = await session.execute(
        insert(inbox)
        .from_select(["consumer", "event_id", "tenant_id", "content_sha256"], row)
        .on_conflict_do_nothing()
        .returning(c.event_id)
    )
    if result.first() is not None:
        return True
    if digest is None:
        return False
    earlier = (
        await session.execute(
            select(c.content_sha256).where(
                c.consumer == consumer, c.event_id == event_id, c.tenant_id.in_((tenant_id, LEGACY_TENANT))
            )
        )
    ).first()
    if earlier is None or earlier.content_sha256 is None or earlier.content_sha256 == digest:
        return False
    raise conflict(consumer, event_id, tenant_id)
