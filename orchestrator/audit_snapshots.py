"""Each snapshot stored once: the audit archive keeps neither a `SnapshotTaken`'s snapshot nor the
parts of it that the step commands carry, since `orchestrator.snapshots` already holds the snapshot
under its SHA-256.

- A `SnapshotTaken` is archived with `snapshot` as `{"$sha256": …}` (the message's `content_sha256`).
- A step command (`ForecastDemand`, `ScheduleProduction`, `PlanProcurement`) is archived with each
  field it copied from its saga's snapshot (`contracts.step_inputs`: products, sales, recipes,
  ingredients, stock lots, suppliers…) as `{"$snapshot_field": "<name>"}`; what the step adds (the
  forecast lines, the requirements) stays inline.

The archived row carries `snapshot_sha256`; its `payload_sha256` stays the hash of the whole message
as it was sent. Reading the archive puts the snapshot and its parts back byte for byte (`expand`),
so the chain verifies exactly as before, replay and explain see the message as it was sent, and a
snapshot changed or removed behind the archive's back shows up as payloads that no longer hash to
their links (`audit verify`). A message is stored whole when its snapshot is not stored, when no
part is worth a reference, or when the reduced form would not give the same bytes back.
"""

import hashlib
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.step_inputs import FORECASTING_PARTS, PROCUREMENT_PARTS, PRODUCTION_PARTS
from infra.messaging.outbox import Outgoing
from orchestrator.stores.snapshot_store import SNAPSHOT_BODY, SizedLru
from orchestrator.tables import audit_events, sagas, snapshots

SNAPSHOT_TAKEN = "planning.snapshot_taken"
REFERENCE = "$sha256"
FIELD_REFERENCE = "$snapshot_field"
STEP_COMMANDS = frozenset(
    {"forecasting.forecast_demand", "production.schedule_production", "procurement.plan_procurement"}
)
PART_FIELDS = frozenset(FORECASTING_PARTS + PRODUCTION_PARTS + PROCUREMENT_PARTS)
MIN_PART_BYTES = 64
"""A part shorter than this (a date, an empty list, a default policy) stays inline: its reference
would be about as long."""


def new_parts_cache() -> SizedLru[dict[str, bytes]]:
    """The parts of the last snapshots the step commands were archived against, bounded by their
    bytes: held by count alone (32), large tenants' parts took 74 MB of the orchestrator's peak
    (memray, a burst of 100 large tenants), where 4 MB keeps 16 standard tenants' parts or two large
    ones'. The count bound is loose (1,024): with 64 tiny sagas in flight, 32 entries missed on
    nearly every command, each miss a read and a parse of the snapshot."""
    return SizedLru(max_entries=1024, max_bytes=4 * 1024 * 1024)


_parts_cache = new_parts_cache()
_stored_digests: SizedLru[str] = SizedLru(max_entries=4096, max_bytes=4096)
"""Saga id → the SHA-256 of its snapshot, for sagas whose snapshot is stored: a saga's snapshot is
set when it starts and never changes, so an entry cannot go stale (each counts 1 against the bound)."""


# built once, their values bound at each call
_SAGA_SNAPSHOT = (
    select(sagas.c.snapshot_sha256, snapshots.c.sha256)
    .outerjoin(snapshots, snapshots.c.sha256 == sagas.c.snapshot_sha256)
    .where(sagas.c.saga_id == bindparam("b_saga_id"))
)
_STORED = select(snapshots.c.sha256).where(snapshots.c.sha256 == bindparam("b_sha256"))


def parts_of(body: bytes) -> dict[str, bytes]:
    """The snapshot's fields a step command may carry, each as the bytes it has in a message."""
    fields = orjson.loads(body)
    return {name: orjson.dumps(value) for name, value in fields.items() if name in PART_FIELDS}


async def _snapshot_parts(conn: AsyncConnection, saga_id: UUID) -> tuple[str, dict[str, bytes]] | None:
    """The SHA-256 and parts of the saga's snapshot, None when it is not stored. The parts of the last
    few snapshots are kept in memory: a saga's three commands, and its retries, read them once."""
    digest = _stored_digests.get(str(saga_id))
    if digest is None:
        found = (await conn.execute(_SAGA_SNAPSHOT, {"b_saga_id": saga_id})).first()
        if found is None or found[1] is None:
            return None
        digest = str(found[0])
        _stored_digests.put(str(saga_id), digest, 1)
    parts = _parts_cache.get(digest)
    if parts is None:
        body = (await conn.execute(SNAPSHOT_BODY, {"b_sha256": digest})).scalar_one()
        parts = parts_of(bytes(body))
        _parts_cache.put(digest, parts, sum(len(part) for part in parts.values()))
    return digest, parts


async def _reduced_command(conn: AsyncConnection, item: Outgoing) -> tuple[bytes, str | None]:
    payload = item.payload
    assert item.message.saga_id is not None, "a step command belongs to a saga"
    found = await _snapshot_parts(conn, item.message.saga_id)
    if found is None:
        return payload, None
    digest, parts = found
    fields = orjson.loads(payload)
    referred = 0
    for name, value in fields.items():
        part = parts.get(name)
        if part is not None and len(part) >= MIN_PART_BYTES and orjson.dumps(value) == part:
            fields[name] = {FIELD_REFERENCE: name}
            referred += 1
    if not referred:
        return payload, None
    compact = orjson.dumps(fields)
    if _expand_parts(orjson.loads(compact), parts) != payload:
        return payload, None
    return compact, digest


async def reduced(conn: AsyncConnection, item: Outgoing) -> tuple[bytes, str | None]:
    """What the archive stores for `item`: its payload and None, or, for a `SnapshotTaken` or a step
    command whose snapshot `orchestrator.snapshots` holds, the payload without the snapshot or the
    parts it copied, and the snapshot's SHA-256."""
    payload = item.payload
    if item.message.event_type in STEP_COMMANDS:
        return await _reduced_command(conn, item)
    if item.message.event_type != SNAPSHOT_TAKEN:
        return payload, None
    fields = orjson.loads(payload)
    body = orjson.dumps(fields["snapshot"])
    digest = hashlib.sha256(body).hexdigest()
    if digest != fields.get("content_sha256"):
        return payload, None
    stored = await conn.execute(_STORED, {"b_sha256": digest})
    if stored.first() is None:
        return payload, None
    fields["snapshot"] = {REFERENCE: digest}
    compact = orjson.dumps(fields)
    if expand(compact, body) != payload:  # the reduced form must give back the very bytes that were sent
        return payload, None
    return compact, digest


def _expand_parts(fields: dict[str, Any], parts: dict[str, bytes]) -> bytes:
    for name, value in fields.items():
        if isinstance(value, dict) and value.keys() == {FIELD_REFERENCE} and value[FIELD_REFERENCE] in parts:
            fields[name] = orjson.Fragment(parts[value[FIELD_REFERENCE]])
    return orjson.dumps(fields)


def expand(stored: bytes, body: bytes | None) -> bytes:
    """The archived message as it was sent: `stored` with the snapshot `body`, or the parts of it the
    message carried, put back (unchanged when the row was stored whole, or when the snapshot is gone:
    then it no longer verifies)."""
    if body is None:
        return stored
    fields: dict[str, Any] = orjson.loads(stored)
    if isinstance(fields.get("snapshot"), dict) and REFERENCE in fields["snapshot"]:
        fields["snapshot"] = orjson.Fragment(bytes(body))
        return orjson.dumps(fields)
    return _expand_parts(fields, parts_of(bytes(body)))


def with_snapshots(query: Select[Any]) -> Select[Any]:
    """`query` over `audit_events`, with the body of each row's referenced snapshot (`snapshot_body`)."""
    return query.add_columns(snapshots.c.body.label("snapshot_body")).outerjoin(
        snapshots, snapshots.c.sha256 == audit_events.c.snapshot_sha256
    )
