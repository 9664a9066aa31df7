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

With a batch engine, the records this consumer has already fetched when one arrives are handled
with it in one transaction, and each alone when that fails (`infra.messaging.consumer_batch`).

Retries never block other tenants: the failed record's partition is rewound to the record and
paused for the backoff (Kafka's own pause/seek), and the consumer goes on with its other
partitions. FastStream's `nack` alone would re-read the record at once, a hot loop.
"""

import functools
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from contracts.errors import DeferredError, InvalidMessageError, PermanentError, TenantBindingError
from contracts.topics import Topic
from infra import logs, tracing
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging.attempts import DeliveryAttempts, MemoryDeliveryAttempts
from infra.messaging.claim_check import ClaimChecks
from infra.messaging.codec import decode
from infra.messaging.consumer_batch import HOLDING, BatchShell, Record, ReleaseOnRevoke
from infra.messaging.delivery import DeliveryPolicy as DeliveryPolicy
from infra.messaging.delivery import Retries, claim_digest, park, reject_reason
from infra.messaging.record_parser import tolerant_parser
from infra.messaging.transient import is_transient as is_transient
from infra.metrics import DEAD_LETTER_CLASSES, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]


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
    batch_engine: AsyncEngine | None = None,
) -> BatchShell | None:
    """Register `handler` for `topic` (its Kafka name) in consumer group `group` (default
    `bakeplan.{consumer}`); what cannot be processed is parked on `dead_letter`. `claims` resolves
    records whose payload went by claim check (without it, such a record is parked). `attempts` counts
    deliveries (durably in production: `PostgresDeliveryAttempts`; in memory if None). `concurrency`
    > 1 runs that many Kafka consumers in the group, each handling its own partitions one record at a
    time (FastStream's `max_workers`): partitions proceed side by side, each still in order.
    `batch_engine`: the database `handler` writes to; with it (and `policy.batch_max_records` > 1, one
    consumer) the records already fetched are handled together in one transaction on it
    (`infra.messaging.consumer_batch`), and the batch shell is returned: `release()` it once the broker
    has stopped."""
    retries = Retries(policy)
    group_id = group or f"bakeplan.{consumer}"
    deliveries: DeliveryAttempts = attempts if attempts is not None else MemoryDeliveryAttempts()
    parked = functools.partial(park, producer, consumer=consumer, dead_letter=dead_letter)

    async def park_here(raw: Record, *, reason: str, error: BaseException, attempts: int, why: str) -> None:
        await parked(raw, reason=reason, error=error, attempts=attempts)
        metrics.dead_lettered.labels(consumer, why).inc()  # `why`: a bounded reason class

    for why in DEAD_LETTER_CLASSES:  # every series from the start: a first dead letter is an increase
        metrics.dead_lettered.labels(consumer, why)

    after_commit = f"{consumer}.after_commit"

    async def on_record(record: KafkaMessage) -> None:
        raw = record.raw_message
        assert not isinstance(raw, tuple), "a record subscriber gets one record"
        if shell is not None:
            await on_fetch(record, raw)
            return
        with metrics.handle_seconds.labels(consumer).time():
            outcome = await deliver(raw, record.consumer)
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

    async def deliver(
        raw: Record, kafka: AIOKafkaConsumer, counted: int | None = None, run: Handler | None = None
    ) -> str:
        """Handle `raw` alone; `counted`: its delivery count when it was counted already; `run`: how
        to run `handler` on its message (the batch shell's: in a transaction that counts the next
        record ahead), judged as `handler` itself would be."""
        body = raw.value or b""
        if len(body) > policy.max_message_bytes:
            exc = InvalidMessageError(
                f"record of {len(body)} bytes on {raw.topic} exceeds the limit of {policy.max_message_bytes} bytes "
                "(BAKEPLAN_MAX_MESSAGE_BYTES); split the message or raise the limit"
            )
            await park_here(raw, reason=str(exc), error=exc, attempts=1, why="oversize")
            return "dead_lettered"
        digest = claim_digest(raw)
        if digest is not None:
            try:
                body = await resolve(digest)
            except InvalidMessageError as exc:
                await park_here(raw, reason=str(exc), error=exc, attempts=1, why="claim_check")
                return "dead_lettered"
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = retries.pause(kafka, raw, policy.backoff(1, random.Random()))
                log.warning(
                    "%s cannot resolve claim check %s yet (%r); retrying in %.2f s", consumer, digest, exc, delay
                )
                return "retry_scheduled"
        try:
            message = decode(body)
        except InvalidMessageError as exc:
            await park_here(raw, reason=str(exc), error=exc, attempts=1, why="undecodable")
            return "dead_lettered"
        rejected = reject_reason(raw, message)
        if rejected is not None:
            error = InvalidMessageError(rejected)
            await park_here(raw, reason=rejected, error=error, attempts=1, why="key_mismatch")
            return "dead_lettered"
        where = (group_id, raw.topic, raw.partition, raw.offset)
        try:
            attempt = counted if counted is not None else await deliveries.begin(*where)
        except Exception as exc:  # noqa: BLE001 - not counted, not handled: the record waits, never lost
            # the database is down (transient), or the table is missing (run `bakeplan db upgrade`):
            # either way the record is retried after a backoff, never handled uncounted
            delay = retries.schedule(kafka, raw)
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
                raw, reason=reason, error=PermanentError(reason), attempts=attempt - 1, why="delivery_limit"
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
            outcome = await handle(kafka, raw, message, attempt, run or handler)
            tracing.mark_outcome(span, outcome, failed=outcome in ("dead_lettered", "retry_scheduled"))
            return outcome

    async def resolve(digest: str) -> bytes:
        if claims is None:
            raise InvalidMessageError(
                f"record refers to claim check {digest}, but consumer {consumer} has no database to resolve it"
            )
        return await claims.resolve(digest)

    async def refund(raw: Record) -> None:
        try:
            await deliveries.refund(group_id, raw.topic, raw.partition, raw.offset)
        except Exception as exc:  # noqa: BLE001 - a lost refund only makes the count one higher
            log.warning("%s could not take back a delivery count (%r); it counts", consumer, exc)

    async def handle(kafka: AIOKafkaConsumer, raw: Record, message: Message, attempt: int, run: Handler) -> str:
        context = {"consumer": consumer}
        try:
            if crash_points.armed:  # a message that kills its process (the fault suite's)
                crash_points.hit(f"{consumer}.handling:{message.event_type}:{message.tenant_id}")
            await run(message)
        except DeferredError as exc:
            # not a failure: the same record again after the pause, attempts unchanged
            await refund(raw)
            delay = retries.pause(kafka, raw, exc.retry_after)
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
            await park_here(raw, reason=str(exc), error=exc, attempts=attempt, why=why)
            return "dead_lettered"
        except Exception as exc:  # noqa: BLE001 - transient errors and bugs: retry, then park
            metrics.handler_errors.labels(consumer, type(exc).__name__).inc()
            if attempt >= policy.max_attempts and not is_transient(exc):
                retries.forget(raw)
                reason = f"{consumer} gave up after {attempt} attempts: {exc!r}"
                log.error(reason, extra=context)
                await park_here(raw, reason=reason, error=exc, attempts=attempt, why="retries_exhausted")
                return "dead_lettered"
            if is_transient(exc):
                await refund(raw)  # the dependency was down, the message is not at fault
            delay = retries.schedule(kafka, raw)
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

    async def readable(raw: Record) -> Message | None:
        """`raw`'s message when it can be handled as it is; None when the record path must decide
        (park it, or wait for its claim check)."""
        body = raw.value or b""
        if len(body) > policy.max_message_bytes:
            return None
        digest = claim_digest(raw)
        try:
            message = decode(body if digest is None else await resolve(digest))
        except Exception:  # noqa: BLE001 - the record path parks it or waits, with the reason
            return None
        return message if reject_reason(raw, message) is None else None

    async def on_fetch(record: KafkaMessage, raw: Record) -> None:
        """`raw` and whatever else this consumer has fetched already (no wait: the next fetch is not
        awaited for a batch), handled as batches (`infra.messaging.consumer_batch`)."""
        kafka: AIOKafkaConsumer = record.consumer
        more = await kafka.getmany(timeout_ms=0, max_records=policy.batch_max_records - 1)
        records = (raw, *itertools.chain.from_iterable(more.values()))
        started = time.perf_counter()
        outcomes = await shell.run(records, kafka) if shell is not None else []
        each = (time.perf_counter() - started) / len(records)
        for outcome in outcomes:
            metrics.handle_seconds.labels(consumer).observe(each)
            metrics.messages.labels(consumer, outcome).inc()
        if all(outcome in HOLDING for outcome in outcomes):
            return  # nothing to acknowledge: every partition was rewound and paused
        crash_points.hit(after_commit)
        try:
            await record.ack()  # each partition's position: past what was handled, at what waits
        except KafkaError as exc:
            log.warning("%s could not commit its offsets (%r); the records will be redelivered", consumer, exc)

    shell: BatchShell | None = None
    if batch_engine is not None and policy.batch_max_records > 1 and concurrency == 1:
        shell = BatchShell(
            consumer=consumer,
            group_id=group_id,
            engine=batch_engine,
            handler=handler,
            deliveries=deliveries,
            crash_points=crash_points,
            readable=readable,
            deliver=deliver,
            forget=retries.forget,
            together=metrics.batch_records.labels(consumer).observe,
            max_seconds=policy.batch_max_ms / 1000,
            max_fetch_seconds=policy.fetch_budget_seconds,
        )
    broker.subscriber(
        str(topic),
        parser=tolerant_parser,  # a non-UTF-8 header must reach the shell (and be parked), not fail in FastStream
        max_workers=concurrency,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        max_poll_interval_ms=policy.max_poll_interval_ms,
        session_timeout_ms=policy.session_timeout_ms,
        heartbeat_interval_ms=policy.heartbeat_interval_ms,
        # measured: with aiokafka's default 500 ms a saga hop often waited hundreds of ms on a fetch
        fetch_max_wait_ms=policy.fetch_max_wait_ms,
        listener=ReleaseOnRevoke(shell) if shell is not None else None,
    )(on_record)
    return shell
