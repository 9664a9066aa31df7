"""Transactional outbox: messages are rows written in the same transaction as the state they
follow from; a relay publishes them with an idempotent producer (acks=all) and marks them sent.

A row is marked sent only after Kafka acknowledged it, so a crash in between re-publishes it
(consumers dedupe by `event_id`). The relay reads every unpublished row, not a high-water mark, so
a row that commits after one with a higher id is never skipped.

One relay publishes a given outbox at a time (a transaction-scoped advisory lock), so replicas of a
component keep a tenant's messages in commit order instead of racing each other. Writers NOTIFY the
outbox's channel in their transaction (delivered on commit); the relay LISTENs on it and also
polls, the safety net for a lost notification or a dropped listening connection.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Message
from contracts.headers import EVENT_TYPE
from contracts.topics import Topic
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging.codec import encode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    topic: Topic
    message: Message

    @cached_property
    def payload(self) -> bytes:
        """The encoded message, encoded once for the outbox and the audit archive."""
        return encode(self.message)


async def add(session: AsyncConnection, outbox: Table, items: Sequence[Outgoing]) -> None:
    """Queue messages in the caller's transaction. Re-adding an event id is a no-op."""
    if not items:
        return
    rows = [
        {
            "event_id": item.message.event_id,
            "topic": str(item.topic),
            "message_key": item.message.tenant_id,
            "event_type": item.message.event_type,
            "payload": item.payload,
        }
        for item in items
    ]
    notify = select(func.pg_notify(channel(outbox), ""))
    if len(rows) == 1:
        # the usual case, one row: it and the NOTIFY in one round trip (a data-modifying CTE runs even
        # where nothing reads it; single-row VALUES keeps the statement in SQLAlchemy's compiled cache)
        queued = pg_insert(outbox).values(**rows[0]).on_conflict_do_nothing(index_elements=["event_id"]).cte("queued")
        await session.execute(notify.add_cte(queued))
        return
    # several: one multi-row insert, so the ids (and the relay's publishing order) follow `items`
    await session.execute(pg_insert(outbox).on_conflict_do_nothing(index_elements=["event_id"]), rows)
    await session.execute(notify)


def channel(outbox: Table) -> str:
    """The NOTIFY channel of one outbox (delivered when the writing transaction commits)."""
    return f"bakeplan_outbox_{outbox.schema}"


class OutboxRelay:
    """Publishes one component's outbox. `wake()` after a commit publishes at once; polling is the
    safety net for rows written by other processes or left over from a crash."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        producer: AIOKafkaProducer,
        *,
        poll_seconds: float,
        on_published: Callable[[int], None] = lambda n: None,
        batch_size: int = 500,
        crash_points: CrashPoints = DISARMED,
        topic_prefix: str = "",
    ) -> None:
        """`topic_prefix`: put before each row's topic (`Settings.topic_prefix`)."""
        self._topic_prefix = topic_prefix
        self._crash_points = crash_points
        self._on_published = on_published
        self._engine = engine
        self._outbox = outbox
        self._producer = producer
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def listen(self, dsn: str) -> None:
        """Wake on the outbox's NOTIFY channel, from this and every other process; reconnects
        after the connection drops (polling covers the gap)."""
        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("outbox listener of %s cannot connect (%r); polling meanwhile", self._outbox.fullname, exc)
                await asyncio.sleep(max(1.0, self._poll_seconds * 5))
                continue
            try:
                await self._listen_until_lost(conn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("outbox listener of %s lost its connection (%r)", self._outbox.fullname, exc)
            finally:
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.CancelledError):
                    await asyncio.shield(conn.close(timeout=2))

    async def _listen_until_lost(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        await conn.add_listener(channel(self._outbox), lambda *_: self.wake())
        conn.add_termination_listener(lambda _: lost.set())
        self.wake()  # rows may have committed while nobody listened
        await lost.wait()

    async def run(self) -> None:
        while True:
            try:
                published = await self.publish_pending()
            except Exception:
                log.exception("outbox relay of %s failed; retrying", self._outbox.fullname)
                await asyncio.sleep(min(5.0, self._poll_seconds * 5))
                continue
            if published >= self._batch_size:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in id order; returns how many were published."""
        o = self._outbox
        async with self._engine.begin() as conn:
            leader = (
                await conn.execute(text("SELECT pg_try_advisory_xact_lock(hashtext(:name))"), {"name": o.fullname})
            ).scalar_one()
            if not leader:
                return 0  # another replica's relay is publishing this outbox right now
            rows = (
                await conn.execute(
                    select(o.c.id, o.c.topic, o.c.message_key, o.c.event_type, o.c.payload)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            futures = [
                await self._producer.send(
                    self._topic_prefix + row.topic,
                    value=row.payload,
                    key=row.message_key.encode(),
                    headers=[(EVENT_TYPE, row.event_type.encode())],
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
            self._crash_points.hit("relay.after_publish")
            await conn.execute(update(o).where(o.c.id.in_([row.id for row in rows])).values(published_at=func.now()))
        self._on_published(len(rows))
        return len(rows)


__all__ = ["OutboxRelay", "Outgoing", "add"]
