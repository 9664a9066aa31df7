"""Writing to a transactional outbox: the rows queued in the writer's transaction, with a NOTIFY of
the outbox's channel (delivered on commit). The relay that publishes them: infra/messaging/outbox.py.

Inside a consumer batch (infra/messaging/batch_tx.py) the rows of every handler are queued in the batch
and written in one statement just before its commit, in the order they were added."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from sqlalchemy import LargeBinary, String, Table, Uuid, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Message
from contracts.topics import Topic
from infra import tracing
from infra.messaging import batch_tx, claim_check
from infra.messaging.codec import encode
from infra.messaging.payload_limits import DEFAULT_LIMITS, PayloadLimits, check_payload_size


@dataclass(frozen=True)
class Outgoing:
    topic: Topic
    message: Message

    @cached_property
    def payload(self) -> bytes:
        """The encoded message, encoded once for the outbox and the audit archive."""
        return encode(self.message)

    @classmethod
    def encoded(cls, topic: Topic, head: Message, payload: bytes) -> "Outgoing":
        """A message encoded elsewhere (a worker's planner process): `payload` is its encoding, and
        `head` its envelope (ids, type, tenant, saga), all the outbox row and a size error read of it."""
        item = cls(topic, head)
        item.__dict__["payload"] = payload  # what the cached property would hold
        return item


# Kafka refuses these for good: sending the row again cannot help, so it is parked
def check_size(item: Outgoing, limits: PayloadLimits) -> None:
    """Raise `PayloadTooLargeError` when `item` is past `limits.max_bytes`, naming it and the limit."""
    check_payload_size(item.message, len(item.payload), limits)


async def add(
    session: AsyncConnection, outbox: Table, items: Sequence[Outgoing], *, limits: PayloadLimits = DEFAULT_LIMITS
) -> None:
    """Queue messages in the caller's transaction. Re-adding an event id is a no-op. Raises
    `PayloadTooLargeError` for a payload past `limits.max_bytes` (nothing is queued); a payload past
    `limits.claim_check_bytes` is stored by claim check and the row holds its reference."""
    if not items:
        return
    for item in items:
        check_size(item, limits)
    rows = [await _row(session, item, limits) for item in items]
    batch = batch_tx.current()
    if batch is not None and batch.holds(session):
        # inside a consumer batch: every handler's rows go in one statement just before its commit
        batch.deferred(("outbox", outbox.fullname), lambda conn, pending: _insert(conn, outbox, pending)).extend(rows)
        return
    await _insert(session, outbox, rows)


async def _insert(session: AsyncConnection, outbox: Table, rows: list[dict[str, Any]]) -> None:
    """`rows` in one statement with the outbox's NOTIFY (delivered on commit)."""
    await session.execute(_inserting(outbox), {name: [row[name] for row in rows] for name, _ in _ARRAYS})


@cache
def _inserting(outbox: Table) -> Any:
    """The rows' columns as arrays unnested in order, so the ids (and the relay's publishing order)
    follow the rows; a data-modifying CTE runs even where nothing reads it. One statement for any
    number of rows, built once per outbox: a multi-row VALUES has no cache key, and SQLAlchemy would
    compile it again for every batch; building it per call cost more than running it."""
    notify = select(func.pg_notify(channel(outbox), ""))
    columns = [name for name, _ in _ARRAYS]
    unnested = (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _ARRAYS))
        .table_valued(*columns, with_ordinality="n")
        .render_derived("queued_rows")
    )
    ordered = select(*(unnested.c[name] for name in columns)).order_by(unnested.c.n)
    queued = pg_insert(outbox).from_select(columns, ordered).on_conflict_do_nothing(index_elements=["event_id"])
    return notify.add_cte(queued.cte("queued"))


_ARRAYS: list[tuple[str, Any]] = [
    ("event_id", Uuid),
    ("topic", String),
    ("message_key", String),
    ("event_type", String),
    ("payload", LargeBinary),
    ("claim_sha256", String),
    ("traceparent", String),
]
"""The outbox's columns a writer fills, with their element types, for the several-row insert."""


async def _row(session: AsyncConnection, item: Outgoing, limits: PayloadLimits) -> dict[str, Any]:
    m = item.message
    row: dict[str, Any] = {
        "event_id": m.event_id,
        "topic": str(item.topic),
        "message_key": m.tenant_id,
        "event_type": m.event_type,
        "payload": item.payload,
        "claim_sha256": None,
        # the writing transaction's trace: the relay sends it on as the record's `traceparent`
        "traceparent": tracing.current_traceparent(),
    }
    size = len(item.payload)
    if size > limits.claim_check_bytes:
        digest = await claim_check.store(session, item.payload)
        row["claim_sha256"] = digest
        row["payload"] = claim_check.reference(
            digest, size_bytes=size, event_type=m.event_type, event_id=str(m.event_id), tenant_id=m.tenant_id
        )
    return row


def channel(outbox: Table) -> str:
    """The NOTIFY channel of one outbox (delivered when the writing transaction commits)."""
    return f"bakeplan_outbox_{outbox.schema}"
