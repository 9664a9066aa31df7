"""The consumer shell every component uses on top of FastStream.

For each record: reject at once what cannot be processed (oversize, unparsable, invalid, unknown
`schema_version`, key differing from the payload's tenant) by parking it in the dead-letter topic;
otherwise run the handler. An unavailable dependency (database or broker unreachable, a
serialization conflict, a `TransientError`) is retried with exponential backoff and jitter for as
long as it lasts: parking valid messages because Postgres restarted would stall their sagas. Any
other exception is a bug or bad data: retried up to `max_attempts`, then parked. Deliveries are
counted durably before the handler runs (`infra.messaging.attempts`), so a message that kills or
hangs its process is parked after `max_attempts` deliveries too, not redelivered forever. A
`TenantBindingError` is parked and counted as a security event (metric and log line). The Kafka offset
is committed only after the handler's transaction committed or the record was parked (manual
acknowledgement, never acknowledge-first).

Retries never block other tenants: the failed record's partition is rewound to the record and
paused for the backoff (Kafka's own pause/seek), and the consumer goes on with its other
partitions. FastStream's `nack` alone would re-read the record at once, a hot loop.
"""

import asyncio
import functools
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts import headers as h
from contracts.envelope import Message
from contracts.errors import DeferredError, InvalidMessageError, PermanentError, TenantBindingError
from contracts.topics import Topic
from infra import logs, tracing
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging.attempts import DeliveryAttempts, MemoryDeliveryAttempts
from infra.messaging.claim_check import ClaimChecks
from infra.messaging.codec import decode
from infra.messaging.record_parser import tolerant_parser
from infra.messaging.transient import is_transient as is_transient
from infra.metrics import DEAD_LETTER_CLASSES, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    retry_base_seconds: float
    fetch_max_wait_ms: int = 100
    retry_max_seconds: float = 10.0
    max_message_bytes: int = 8 * 1024 * 1024
    max_poll_interval_ms: int = 300_000
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


def _record(message: KafkaMessage) -> ConsumerRecord[bytes, bytes]:
    raw = message.raw_message
    assert not isinstance(raw, tuple), "batch consumption is not used"
    return raw


async def park(
    producer: AIOKafkaProducer,
    record: KafkaMessage,
    *,
    consumer: str,
    reason: str,
    error: BaseException,
    attempts: int,
    dead_letter: str = str(Topic.DEAD_LETTER),
) -> None:
    """Publish the original bytes and headers to the dead-letter topic (`dead_letter`, its Kafka name),
    with why and where from."""
    raw = _record(record)
    headers = [
        *list(raw.headers or ()),
        (h.DLQ_REASON, reason[:2000].encode()),
        (h.DLQ_EXCEPTION, type(error).__name__.encode()),
        (h.DLQ_ATTEMPTS, str(attempts).encode()),
        (h.DLQ_CONSUMER, consumer.encode()),
        (h.DLQ_SOURCE_TOPIC, raw.topic.encode()),
        (h.DLQ_SOURCE_PARTITION, str(raw.partition).encode()),
        (h.DLQ_SOURCE_OFFSET, str(raw.offset).encode()),
        (h.DLQ_PARKED_AT, datetime.now(UTC).isoformat().encode()),
    ]
    # parking must not lose the record: retry until Kafka takes it (the offset is not committed before)
    for attempt in itertools.count(1):
        try:
            await producer.send_and_wait(dead_letter, value=raw.value, key=raw.key, headers=headers)
            break
        except KafkaError:
            log.exception("could not park a message from %s (attempt %d); retrying", raw.topic, attempt)
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
    log.warning(
        "parked message from %s[%s]@%s in %s: %s",
        raw.topic,
        raw.partition,
        raw.offset,
        dead_letter,
        reason,
        extra={"consumer": consumer},
    )


def reject_reason(raw: ConsumerRecord[bytes, bytes], message: Message) -> str | None:
    """Why a well-formed message must still not be processed, or None."""
    key = raw.key.decode(errors="replace") if raw.key is not None else None
    if key != message.tenant_id:
        return (
            f"{message.event_type} {message.event_id}: record key {key!r} differs from the payload's tenant_id "
            f"{message.tenant_id!r}; publish with key = tenant_id, so one tenant's messages stay on one partition"
        )
    return None


def claim_digest(raw: ConsumerRecord[bytes, bytes]) -> str | None:
    """The claim check a record refers to (`contracts.headers.CLAIM_CHECK`), or None."""
    for name, value in raw.headers or ():
        if name == h.CLAIM_CHECK:
            return bytes(value).decode(errors="replace")
    return None


class _Retries:
    """The pause/rewind that schedules the next attempt of a record. Its failures in this process set
    the backoff; whether to park is decided by the durable delivery count (`infra.messaging.attempts`),
    which a transient failure does not raise."""

    def __init__(self, policy: DeliveryPolicy) -> None:
        self._policy = policy
        self._failures: dict[tuple[str, int, int], int] = {}
        self._deferred: set[tuple[str, int, int]] = set()
        self._rng = random.Random()

    def forget(self, raw: ConsumerRecord[bytes, bytes]) -> None:
        self._failures.pop((raw.topic, raw.partition, raw.offset), None)
        self._deferred.discard((raw.topic, raw.partition, raw.offset))

    def failed_before(self, raw: ConsumerRecord[bytes, bytes]) -> bool:
        return (raw.topic, raw.partition, raw.offset) in self._failures

    def first_deferral(self, raw: ConsumerRecord[bytes, bytes]) -> bool:
        """True the first time `raw` is deferred (until it is handled): log once, not every pause."""
        key = (raw.topic, raw.partition, raw.offset)
        first = key not in self._deferred
        self._deferred.add(key)
        return first

    def schedule(self, consumer: AIOKafkaConsumer, raw: ConsumerRecord[bytes, bytes]) -> float:
        """Rewind the partition to `raw` and pause it for the backoff after its latest failure (growing
        with each); returns the delay."""
        key = (raw.topic, raw.partition, raw.offset)
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return self.pause(consumer, raw, self._policy.backoff(failures, self._rng))

    def pause(self, consumer: AIOKafkaConsumer, raw: ConsumerRecord[bytes, bytes], delay: float) -> float:
        """Rewind the partition to `raw` and pause it for `delay` seconds; returns the delay."""
        tp = TopicPartition(raw.topic, raw.partition)
        try:
            consumer.seek(tp, raw.offset)
            consumer.pause(tp)
        except IllegalStateError:
            return 0.0  # revoked meanwhile: the new owner reads it from the committed offset
        asyncio.get_running_loop().call_later(delay, self._resume, consumer, tp)
        return delay

    @staticmethod
    def _resume(consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        try:
            consumer.resume(tp)
        except (IllegalStateError, KeyError):
            log.debug("partition %s was revoked during its retry backoff", tp)


def subscribe(
    broker: KafkaBroker,
    producer: AIOKafkaProducer,
    *,
    topic: str,
    consumer: str,
    handler: Handler,
    policy: DeliveryPolicy,
    metrics: Metrics,
    crash_points: CrashPoints = DISARMED,
    group: str | None = None,
    dead_letter: str = str(Topic.DEAD_LETTER),
    claims: ClaimChecks | None = None,
    attempts: DeliveryAttempts | None = None,
    concurrency: int = 1,
) -> None:
    """Register `handler` for `topic` (its Kafka name) in consumer group `group` (default
    `bakeplan.{consumer}`); what cannot be processed is parked on `dead_letter`. `claims` resolves
    records whose payload went by claim check (without it, such a record is parked). `attempts` counts
    deliveries (durably in production: `PostgresDeliveryAttempts`; in memory if None). `concurrency`
    > 1 runs that many Kafka consumers in the group, each handling its own partitions one record at a
    time (FastStream's `max_workers`): partitions proceed side by side, each still in order."""
    retries = _Retries(policy)
    group_id = group or f"bakeplan.{consumer}"
    deliveries: DeliveryAttempts = attempts if attempts is not None else MemoryDeliveryAttempts()
    parked = functools.partial(park, producer, consumer=consumer, dead_letter=dead_letter)

    async def park_here(record: KafkaMessage, *, reason: str, error: BaseException, attempts: int, why: str) -> None:
        await parked(record, reason=reason, error=error, attempts=attempts)
        metrics.dead_lettered.labels(consumer, why).inc()  # `why`: a bounded reason class

    for why in DEAD_LETTER_CLASSES:  # every series from the start: a first dead letter is an increase
        metrics.dead_lettered.labels(consumer, why)

    after_commit = f"{consumer}.after_commit"

    async def on_record(record: KafkaMessage) -> None:
        with metrics.handle_seconds.labels(consumer).time():
            outcome = await deliver(record)
        metrics.messages.labels(consumer, outcome).inc()
        if outcome in ("retry_scheduled", "deferred"):
            return  # not acknowledged: the partition was rewound and paused
        crash_points.hit(after_commit)
        try:
            await record.ack()
        except KafkaError as exc:
            # typically a rebalance moved the partition: its new owner re-reads the record and the
            # inbox makes that harmless
            log.warning("%s could not commit its offset (%r); the record will be redelivered", consumer, exc)

    async def deliver(record: KafkaMessage) -> str:
        raw = _record(record)
        body = raw.value or b""
        if len(body) > policy.max_message_bytes:
            exc = InvalidMessageError(
                f"record of {len(body)} bytes on {raw.topic} exceeds the limit of {policy.max_message_bytes} bytes "
                "(BAKEPLAN_MAX_MESSAGE_BYTES); split the message or raise the limit"
            )
            await park_here(record, reason=str(exc), error=exc, attempts=1, why="oversize")
            return "dead_lettered"
        digest = claim_digest(raw)
        if digest is not None:
            try:
                body = await resolve(digest)
            except InvalidMessageError as exc:
                await park_here(record, reason=str(exc), error=exc, attempts=1, why="claim_check")
                return "dead_lettered"
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = retries.pause(record.consumer, raw, policy.backoff(1, random.Random()))
                log.warning(
                    "%s cannot resolve claim check %s yet (%r); retrying in %.2f s", consumer, digest, exc, delay
                )
                return "retry_scheduled"
        try:
            message = decode(body)
        except InvalidMessageError as exc:
            await park_here(record, reason=str(exc), error=exc, attempts=1, why="undecodable")
            return "dead_lettered"
        rejected = reject_reason(raw, message)
        if rejected is not None:
            error = InvalidMessageError(rejected)
            await park_here(record, reason=rejected, error=error, attempts=1, why="key_mismatch")
            return "dead_lettered"
        where = (group_id, raw.topic, raw.partition, raw.offset)
        try:
            attempt = await deliveries.begin(*where)
        except Exception as exc:  # noqa: BLE001 - not counted, not handled: the record waits, never lost
            # the database is down (transient), or the table is missing (run `bakeplan db upgrade`):
            # either way the record is retried after a backoff, never handled uncounted
            delay = retries.schedule(record.consumer, raw)
            level = logging.WARNING if is_transient(exc) else logging.ERROR
            log.log(level, "%s could not count a delivery (%r); retrying in %.2f s", consumer, exc, delay)
            return "retry_scheduled"
        if attempt > policy.max_attempts:
            # the earlier deliveries began and never finished: each killed or hung its process
            retries.forget(raw)
            reason = (
                f"{consumer}: {message.event_type} {message.event_id} of tenant {message.tenant_id} was delivered "
                f"{attempt - 1} times and its handling never finished (the process died or hung on it); "
                f"parked after BAKEPLAN_MAX_DELIVERY_ATTEMPTS={policy.max_attempts} deliveries"
            )
            log.error(reason, extra={"consumer": consumer, "tenant_id": message.tenant_id})
            await park_here(
                record, reason=reason, error=PermanentError(reason), attempts=attempt - 1, why="delivery_limit"
            )
            return "dead_lettered"
        with (
            tracing.consuming(consumer=consumer, topic=raw.topic, headers=raw.headers, message=message) as span,
            logs.message_context(
                tenant_id=message.tenant_id,
                saga_id=message.saga_id,
                event_id=message.event_id,
                event_type=message.event_type,
            ),
        ):
            outcome = await handle(record, raw, message, attempt)
            tracing.mark_outcome(span, outcome, failed=outcome in ("dead_lettered", "retry_scheduled"))
            return outcome

    async def resolve(digest: str) -> bytes:
        if claims is None:
            raise InvalidMessageError(
                f"record refers to claim check {digest}, but consumer {consumer} has no database to resolve it"
            )
        return await claims.resolve(digest)

    async def refund(raw: ConsumerRecord[bytes, bytes]) -> None:
        try:
            await deliveries.refund(group_id, raw.topic, raw.partition, raw.offset)
        except Exception as exc:  # noqa: BLE001 - a lost refund only makes the count one higher
            log.warning("%s could not take back a delivery count (%r); it counts", consumer, exc)

    async def handle(record: KafkaMessage, raw: ConsumerRecord[bytes, bytes], message: Message, attempt: int) -> str:
        context = {"consumer": consumer}
        try:
            if crash_points.armed:  # a message that kills its process (the fault suite's)
                crash_points.hit(f"{consumer}.handling:{message.event_type}:{message.tenant_id}")
            await handler(message)
        except DeferredError as exc:
            # not a failure: the same record again after the pause, attempts unchanged
            await refund(raw)
            delay = retries.pause(record.consumer, raw, exc.retry_after)
            level = logging.INFO if retries.first_deferral(raw) else logging.DEBUG
            log.log(
                level,
                "%s deferred %s (retried every %.2f s): %s",
                consumer,
                message.event_type,
                delay,
                exc,
                extra=context,
            )
            return "deferred"
        except PermanentError as exc:
            retries.forget(raw)
            if isinstance(exc, TenantBindingError):
                metrics.security_events.labels(consumer, exc.kind).inc()
                log.warning(
                    "security event %s: %s",
                    exc.kind,
                    exc,
                    extra={"consumer": consumer, "security_event": exc.kind, "tenant_id": message.tenant_id},
                )
            why = "tenant_binding" if isinstance(exc, TenantBindingError) else "permanent"
            metrics.handler_errors.labels(consumer, type(exc).__name__).inc()
            await park_here(record, reason=str(exc), error=exc, attempts=attempt, why=why)
            return "dead_lettered"
        except Exception as exc:  # noqa: BLE001 - transient errors and bugs: retry, then park
            metrics.handler_errors.labels(consumer, type(exc).__name__).inc()
            if attempt >= policy.max_attempts and not is_transient(exc):
                retries.forget(raw)
                reason = f"{consumer} gave up after {attempt} attempts: {exc!r}"
                log.error(reason, extra=context)
                await park_here(record, reason=reason, error=exc, attempts=attempt, why="retries_exhausted")
                return "dead_lettered"
            if is_transient(exc):
                await refund(raw)  # the dependency was down, the message is not at fault
            delay = retries.schedule(record.consumer, raw)
            log.warning(
                "%s failed on %s (attempt %d, %s), retrying in %.2f s: %r",
                consumer,
                message.event_type,
                attempt,
                "unavailable: until it succeeds" if is_transient(exc) else f"of {policy.max_attempts}",
                delay,
                exc,
                extra=context,
            )
            return "retry_scheduled"
        retried = attempt > 1 or retries.failed_before(raw)
        retries.forget(raw)
        return "retried" if retried else "handled"

    broker.subscriber(
        str(topic),
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        max_poll_interval_ms=policy.max_poll_interval_ms,
        session_timeout_ms=policy.session_timeout_ms,
        heartbeat_interval_ms=policy.heartbeat_interval_ms,
        # measured: with aiokafka's default 500 ms a saga hop often waited hundreds of ms on a fetch
        fetch_max_wait_ms=policy.fetch_max_wait_ms,
        parser=tolerant_parser,  # a non-UTF-8 header must reach the shell (and be parked), not fail in FastStream
        max_workers=concurrency,
    )(on_record)
