"""Transactional outbox: messages are rows written in the same transaction as the state they
follow from; a relay publishes them with an idempotent producer (acks=all) and marks them sent.

A row is marked sent only after Kafka acknowledged it, so a crash in between re-publishes it
(consumers dedupe by `event_id`). The relay reads every unpublished row, not a high-water mark, so
a row that commits after one with a higher id is never skipped.

One relay publishes a given outbox at a time (a transaction-scoped advisory lock), so replicas of a
component keep a tenant's messages in commit order instead of racing each other. Writers NOTIFY the
outbox's channel in their transaction (delivered on commit); the relay LISTENs on it and also
polls, the safety net for a lost notification or a dropped listening connection. Each look is one
statement (`pending_rows`): leadership, the rows locked and those within the byte budget.

One bad row must not stop the rest (docs/resilience.md). A payload past `PayloadLimits.max_bytes`
is refused when it is written (`PayloadTooLargeError`, naming the message and the limit); one past
`claim_check_bytes` is stored in Postgres and the row carries a reference (infra/messaging/claim_check.py).
The relay batches by bytes as well as rows, and a row Kafka refuses for good (a record too large for
the topic, a topic it may not write, an invalid topic) is parked (`parked_at`, `park_reason`) with an
`OperationsAlert` queued in the same transaction; the rows behind it are published.
"""

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
)
from sqlalchemy import Select, Table, Update, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.headers import CLAIM_CHECK, EVENT_TYPE
from contracts.messages import OperationsAlert
from contracts.topics import Topic
from infra import tracing
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging import batch_tx
from infra.messaging.outbox_rows import Outgoing, add, channel, check_size
from infra.messaging.payload_limits import (
    DEFAULT_LIMITS,
    PayloadLimits,
    PayloadTooLargeError,
    batch_by_bytes,
)

log = logging.getLogger(__name__)

# Kafka refuses these for good: sending the row again cannot help, so it is parked
_REFUSED_FOR_GOOD: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
)


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
        on_parked: Callable[[int], None] = lambda n: None,
        batch_size: int = 500,
        batch_bytes: int = 4 * 1024 * 1024,
        component: str = "",
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        crash_points: CrashPoints = DISARMED,
        topic_prefix: str = "",
    ) -> None:
        """`topic_prefix`: put before each row's topic (`Settings.topic_prefix`). A batch holds at most
        `batch_size` rows and `batch_bytes` payload bytes (at least one row, whatever its size).
        `component` names the outbox's owner in the alert a parked row raises. `producer_factory`
        makes a fresh producer after Kafka refused a batch: the idempotent producer's sequence on that
        partition is broken then (every later send fails with OutOfOrderSequenceNumber)."""
        self._producer_factory = producer_factory
        self._own_producer = False
        self._topic_prefix = topic_prefix
        self._on_parked = on_parked
        self._batch_bytes = batch_bytes
        self._component = component or (outbox.schema or "")
        self._crash_points = crash_points
        self._on_published = on_published
        self._engine = engine
        self._outbox = outbox
        self._producer = producer
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()
        self._more_pending = False

    @functools.cached_property
    def _look(self) -> Select[Any]:
        """The look's statement, built once per relay."""
        return pending_rows(self._outbox, batch_size=self._batch_size, batch_bytes=self._batch_bytes)

    @functools.cached_property
    def _mark_published(self) -> Update:
        """Marking the rows sent, built once per relay."""
        o = self._outbox
        return update(o).where(o.c.id.in_(bindparam("sent", expanding=True))).values(published_at=func.now())

    def wake(self) -> None:
        """Look at the outbox now (inside a consumer batch: once the batch has committed)."""
        batch_tx.when_committed(self._wakeup.set)

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
            # cleared before looking, not after: a wake that comes while publishing (a row committed
            # after this batch's snapshot) must start another look, not be lost until the next poll
            self._wakeup.clear()
            try:
                await self.publish_pending()
            except Exception:
                log.exception("outbox relay of %s failed; retrying", self._outbox.fullname)
                await asyncio.sleep(min(5.0, self._poll_seconds * 5))
                continue
            if self._more_pending:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in id order; returns how many were published.
        Rows Kafka refused for good are parked (with an alert); rows it failed transiently stay
        unpublished and `RelayStalledError` is raised after the rest were marked published."""
        o = self._outbox
        self._more_pending = False
        async with self._engine.begin() as conn:
            # one statement per look: leadership, the rows locked and those within the byte budget
            rows = (await conn.execute(self._look)).all()
            if not rows:
                return 0  # nothing pending, or another replica's relay is publishing this outbox now
            self._more_pending = len(rows) < rows[0].locked or rows[0].locked >= self._batch_size
            outcomes = await self._send(rows)
            self._crash_points.hit("relay.after_publish")
            sent = [row.id for row, error in zip(rows, outcomes, strict=True) if error is None]
            refused = [
                (row, error)
                for row, error in zip(rows, outcomes, strict=True)
                if error is not None and _refused_for_good(error)
            ]
            stalled = [error for error in outcomes if error is not None and not _refused_for_good(error)]
            if sent:
                await conn.execute(self._mark_published, {"sent": sent})
            for row, error in refused:
                await self._park(conn, row, error)
        if sent:
            self._on_published(len(sent))
        if refused:
            self._on_parked(len(refused))
            self._more_pending = True  # the alerts just queued
        if stalled:
            raise RelayStalledError(
                f"outbox {o.fullname}: {len(stalled)} of {len(rows)} rows not published ({stalled[0]!r}); "
                "they are retried"
            ) from stalled[0]
        return len(sent)

    async def _send(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Send every row, then wait for all acknowledgements: per row None or the error Kafka gave.
        Kafka refuses a whole producer batch for one record too large, so a row refused for good is
        sent once more on its own: only a row refused alone is reported refused."""
        outcomes = await self._send_together(rows)
        if any(_refused_for_good(e) or isinstance(e, OutOfOrderSequenceNumber) for e in outcomes):
            await self._renew_producer()
        for i, row in enumerate(rows):
            if _refused_for_good(outcomes[i]) and len(rows) > 1:
                outcomes[i] = (await self._send_together([row]))[0]
        return outcomes

    async def _renew_producer(self) -> None:
        if self._producer_factory is None:
            return
        fresh = self._producer_factory()
        await fresh.start()
        old, self._producer = self._producer, fresh
        if self._own_producer:
            with contextlib.suppress(KafkaError):
                await old.stop()
        self._own_producer = True
        log.warning("outbox relay of %s renewed its Kafka producer after a refused batch", self._outbox.fullname)

    async def close(self) -> None:
        """Stop the producer the relay made itself, if any (not the one it was given)."""
        if self._own_producer:
            await self._producer.stop()

    async def _send_together(self, rows: Sequence[Any]) -> list[BaseException | None]:
        pending: list[asyncio.Future[Any] | BaseException] = []
        sends: list[tracing.Sending] = []
        for row in rows:
            headers = [(EVENT_TYPE, row.event_type.encode())]
            if row.claim_sha256 is not None:
                headers.append((CLAIM_CHECK, row.claim_sha256.encode()))
            sending, trace_headers = tracing.start_send(
                row.traceparent,
                topic=row.topic,
                event_type=row.event_type,
                event_id=str(row.event_id),
                tenant_id=row.message_key,
            )
            sends.append(sending)
            headers += trace_headers
            try:
                pending.append(
                    await self._producer.send(
                        self._topic_prefix + row.topic, value=row.payload, key=row.message_key.encode(), headers=headers
                    )
                )
            except KafkaError as exc:  # refused before sending, e.g. larger than max_request_size
                pending.append(exc)
        futures = [p for p in pending if not isinstance(p, BaseException)]
        results = iter(await asyncio.gather(*futures, return_exceptions=True))
        outcomes: list[BaseException | None] = []
        for p in pending:
            result = p if isinstance(p, BaseException) else next(results)
            if isinstance(result, BaseException) and not isinstance(result, KafkaError):
                raise result  # not Kafka's answer: a bug, the batch rolls back
            outcomes.append(result if isinstance(result, BaseException) else None)
        for sending, outcome in zip(sends, outcomes, strict=True):
            tracing.end_send(sending, outcome)
        return outcomes

    async def _park(self, conn: AsyncConnection, row: Any, error: BaseException) -> None:
        o = self._outbox
        topic = self._topic_prefix + row.topic
        reason = (
            f"Kafka refused {row.event_type} {row.event_id} of tenant {row.message_key} on {topic} for good "
            f"({type(error).__name__}: {error}); fix the topic's limits or rights, then clear parked_at to resend"
        )
        await conn.execute(update(o).where(o.c.id == row.id).values(parked_at=func.now(), park_reason=reason))
        log.error("outbox %s parked row %s: %s", o.fullname, row.id, reason)
        if row.event_type == OperationsAlert.model_fields["event_type"].default:
            return  # an alert about a parked alert would be refused the same way, for ever
        alert = OperationsAlert(
            event_id=uuid.uuid5(row.event_id, "outbox_row_parked"),
            tenant_id=row.message_key,
            occurred_at=datetime.now(UTC),
            kind="outbox_row_parked",
            component=self._component,
            subject=f"{o.fullname} row {row.id}: {row.event_type} {row.event_id} on {topic}",
            reason=reason[:4000],
        )
        await add(conn, o, [Outgoing(Topic.ALERTS, alert)])


class RelayStalledError(Exception):
    """Some rows of a batch could not be published for now (the broker unreachable, a timeout)."""


def pending_rows(outbox: Table, *, batch_size: int, batch_bytes: int) -> Select[Any]:
    """The relay's look as one statement: when this transaction wins the outbox's advisory lock, the
    first `batch_size` unpublished, unparked rows are locked (SKIP LOCKED) and those of the longest
    prefix within `batch_bytes` returned, at least the first (`batch_by_bytes`'s rule); each carries
    `locked`, how many were locked. No rows: nothing pending, or another relay leads."""
    o = outbox
    leads = select(func.pg_try_advisory_xact_lock(func.hashtext(o.fullname))).scalar_subquery()
    locked = (
        select(o.c.id, func.octet_length(o.c.payload).label("size"))
        .where(leads, o.c.published_at.is_(None), o.c.parked_at.is_(None))
        .order_by(o.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    sized = select(
        locked.c.id,
        func.sum(locked.c.size).over(order_by=locked.c.id).label("upto"),
        func.row_number().over(order_by=locked.c.id).label("n"),
        func.count().over().label("locked"),
    ).cte("sized")
    return (
        select(
            o.c.id,
            o.c.event_id,
            o.c.topic,
            o.c.message_key,
            o.c.event_type,
            o.c.payload,
            o.c.claim_sha256,
            o.c.traceparent,
            sized.c.locked,
        )
        .join(sized, sized.c.id == o.c.id)
        .where(or_(sized.c.n == 1, sized.c.upto <= batch_bytes))
        .order_by(o.c.id)
    )


def _refused_for_good(error: BaseException | None) -> bool:
    return isinstance(error, _REFUSED_FOR_GOOD)


__all__ = [
    "DEFAULT_LIMITS",
    "OutboxRelay",
    "Outgoing",
    "PayloadLimits",
    "PayloadTooLargeError",
    "add",
    "batch_by_bytes",
    "channel",
    "check_size",
]
