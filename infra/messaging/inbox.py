"""Idempotent inbox: a consumer claims an event id in the same transaction as the effect.

A claim is bound to the tenant and the content (docs/security.md, "Tenant binding"): the key is
(consumer, event_id, tenant_id), so a message naming another tenant never occupies this tenant's id,
and the claim keeps the content's digest, so the same id with other content is refused
(`TenantBindingError`, parked) instead of being taken for a duplicate.
"""

from functools import cache
from uuid import UUID

from sqlalchemy import String, Table, Uuid, and_, bindparam, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

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
    params = {"consumer": consumer, "event_id": event_id, "tenant_id": tenant_id, "digest": digest}
    if (await session.execute(_claiming(inbox), params)).first() is not None:
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


@cache
def _claiming(inbox: Table) -> Executable:
    """The claim: insert the id unless it is claimed already, or was by a legacy claim (no tenant).
    Built once per inbox, its values bound at each call: building it costs more than running it
    (measured: ~620 µs a claim built per call, ~270 µs prebuilt, the round trip included)."""
    c = inbox.c
    consumer, event_id = bindparam("consumer", type_=String), bindparam("event_id", type_=Uuid)
    legacy = select(literal(1)).where(
        and_(c.consumer == consumer, c.event_id == event_id, c.tenant_id == LEGACY_TENANT)
    )
    row = select(consumer, event_id, bindparam("tenant_id", type_=String), bindparam("digest", type_=String)).where(
        ~legacy.exists()
    )
    return (
        insert(inbox)
        .from_select(["consumer", "event_id", "tenant_id", "content_sha256"], row)
        .on_conflict_do_nothing()
        .returning(c.event_id)
    )
