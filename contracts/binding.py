"""What binds a message to its tenant and its content (docs/security.md, "Tenant binding").

An inbox claim stores `content_digest(message)` with the tenant: the same event id sent again with the
same content is a duplicate, with other content it is refused. Ids are predictable from the public
recipes in `contracts.ids`, so an id alone must never decide which of two messages takes effect.
"""

import hashlib
from datetime import date
from uuid import UUID

from contracts import ids
from contracts.envelope import Message

PROVENANCE_FIELDS: frozenset[str] = frozenset({"occurred_at", "causation_id", "correlation_id"})
"""Envelope fields that say when and why a copy was sent, not what it asks: a re-send may differ in them."""

TRIGGER_PROVENANCE_FIELDS: frozenset[str] = PROVENANCE_FIELDS | {"source", "requested_by"}
"""A daily trigger may come from the scheduler, `bakeplan trigger` or an external cron under the same id
(`contracts.ids.daily_trigger_id`): who sent it is not what it asks (invariant 5, one plan per day)."""


def content_digest(message: Message) -> str:
    """SHA-256 (hex) of what `message` asks for: its JSON without the provenance fields."""
    provenance = TRIGGER_PROVENANCE_FIELDS if message.event_type == "planning.requested" else PROVENANCE_FIELDS
    body = message.model_dump_json(exclude=set(provenance))
    return hashlib.sha256(body.encode()).hexdigest()


def trigger_id_problem(event_id: UUID, tenant_id: str, business_date: date) -> str | None:
    """Why a trigger's event id is not acceptable for its tenant and date, or None.

    A trigger id is either the day's own (`daily_trigger_id(tenant, date)`) or random (UUID version 4,
    `bakeplan trigger --rerun`). Any other id (a name-derived UUID computed for another tenant or date)
    could otherwise take the saga id of another tenant's plan before that plan's own trigger arrives.
    """
    if event_id.version == 4:
        return None
    if event_id == ids.daily_trigger_id(tenant_id, business_date):
        return None
    return (
        f"trigger {event_id} of tenant {tenant_id!r} for {business_date}: the event id is neither the day's "
        "(contracts.ids.daily_trigger_id(tenant, date)) nor random (UUID version 4); "
        "send it with `bakeplan trigger` or derive the id from the tenant and date"
    )
