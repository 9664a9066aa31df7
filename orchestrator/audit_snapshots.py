"""Each snapshot stored once: the audit archive keeps a `SnapshotTaken` without its snapshot, which
`orchestrator.snapshots` already holds under its SHA-256 (the message's `content_sha256`).

The archived row carries `snapshot_sha256` and a payload whose `snapshot` is `{"$sha256": …}`; its
`payload_sha256` stays the hash of the whole message as it was sent. Reading the archive puts the
snapshot back byte for byte (`expand`), so the chain verifies exactly as before, replay and explain
see the message as it was sent, and a snapshot that was changed or removed shows up as a payload
that no longer hashes to its link (`audit verify`). A message is stored whole when its snapshot is not
stored under its `content_sha256`, or when the reduced form would not give the same bytes back.
"""

import hashlib
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.messaging.outbox import Outgoing
from orchestrator.tables import audit_events, snapshots

SNAPSHOT_TAKEN = "planning.snapshot_taken"
REFERENCE = "$sha256"


async def reduced(conn: AsyncConnection, item: Outgoing) -> tuple[bytes, str | None]:
    """What the archive stores for `item`: its payload and None, or for a `SnapshotTaken` whose snapshot
    `orchestrator.snapshots` holds, the payload without the snapshot and the snapshot's SHA-256."""
    payload = item.payload
    if item.message.event_type != SNAPSHOT_TAKEN:
        return payload, None
    fields = orjson.loads(payload)
    body = orjson.dumps(fields["snapshot"])
    digest = hashlib.sha256(body).hexdigest()
    if digest != fields.get("content_sha256"):
        return payload, None
    stored = await conn.execute(select(snapshots.c.sha256).where(snapshots.c.sha256 == digest))
    if stored.first() is None:
        return payload, None
    fields["snapshot"] = {REFERENCE: digest}
    compact = orjson.dumps(fields)
    if expand(compact, body) != payload:  # the reduced form must give back the very bytes that were sent
        return payload, None
    return compact, digest


def expand(stored: bytes, body: bytes | None) -> bytes:
    """The archived message as it was sent: `stored` with the snapshot `body` put back (unchanged
    when the row was stored whole, or when the snapshot is gone: then it no longer verifies)."""
    if body is None:
        return stored
    fields: dict[str, Any] = orjson.loads(stored)
    fields["snapshot"] = orjson.Fragment(bytes(body))
    return orjson.dumps(fields)


def with_snapshots(query: Select[Any]) -> Select[Any]:
    """`query` over `audit_events`, with the body of each row's referenced snapshot (`snapshot_body`)."""
    return query.add_columns(snapshots.c.body.label("snapshot_body")).outerjoin(
        snapshots, snapshots.c.sha256 == audit_events.c.snapshot_sha256
    )
