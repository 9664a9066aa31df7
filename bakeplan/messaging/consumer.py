"""The consumer shell every component uses on top of FastStream.

For each record: decode (invalid → dead letter at once), run the handler, retry transient errors and
bugs with exponential backoff and jitter up to `max_delivery_attempts`, then dead-letter. The Kafka
offset is committed only after the handler's transaction committed or the record was parked
(manual acknowledgement, never acknowledge-first).
"""

import asyncio
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bakeplan.errors import InvalidMessageError, PermanentError
from bakeplan.messaging.codec import decode
from bakeplan.metrics import Metrics
from contracts.envelope import Message
from contracts.topics import Topic

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    retry_base_seconds: float
    fetch_max_wait_ms: int = 100
    retry_max_seconds: float = 10.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


async def park(
    producer: AIOKafkaProducer,
    record: KafkaMessage,
    *,
    consumer: str,
    reason: str,
    error: BaseException,
    attempts: int,
) -> None:
    """Publish the original bytes and headers to the dead-letter topic, with why and where from."""
    raw = record.raw_message
    assert not isinstance(raw, tuple), "batch consumption is not used"
    headers = [
        *list(raw.headers or ()),
        ("dlq.reason", reason[:2000].encode()),
        ("dlq.exception", type(error).__name__.encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.source.topic", raw.topic.encode()),
        ("dlq.source.partition", str(raw.partition).encode()),
        ("dlq.source.offset", str(raw.offset).encode()),
    ]
    # parking must not lose the record: retry until Kafka takes it (the offset is not committed before)
    for attempt in itertools.count(1):
        try:
            await producer.send_and_wait(Topic.DEAD_LETTER, value=raw.value, key=raw.key, headers=headers)
            break
        except KafkaError:
            log.exception("could not park a message from %s (attempt %d); retrying", raw.topic, attempt)
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
    log.warning(
        "parked message from %s[%s]@%s in %s: %s",
        raw.topic,
        raw.partition,
        raw.offset,
        Topic.DEAD_LETTER,
        reason,
        extra={"consumer": consumer},
    )


def subscribe(
    broker: KafkaBroker,
    producer: AIOKafkaProducer,
    *,
    topic: Topic,
    consumer: str,
    handler: Handler,
    policy: DeliveryPolicy,
    metrics: Metrics,
) -> None:
    """Register `handler` for `topic` in consumer group `bakeplan.{consumer}`."""
    rng = random.Random()

    async def on_record(record: KafkaMessage) -> None:
        with metrics.handle_seconds.labels(consumer).time():
            outcome = await deliver(record)
        metrics.messages.labels(consumer, outcome).inc()
        await record.ack()

    async def deliver(record: KafkaMessage) -> str:
        body = record.body
        try:
            message = decode(body if isinstance(body, bytes) else None)
        except InvalidMessageError as exc:
            await park(producer, record, consumer=consumer, reason=str(exc), error=exc, attempts=1)
            return "dead_lettered"
        for attempt in range(1, policy.max_attempts + 1):
            try:
                await handler(message)
                return "handled" if attempt == 1 else "retried"
            except PermanentError as exc:
                await park(producer, record, consumer=consumer, reason=str(exc), error=exc, attempts=attempt)
                return "dead_lettered"
            except Exception as exc:  # noqa: BLE001 - transient errors and bugs: retry, then park
                log.warning(
                    "%s failed on %s (attempt %d/%d): %r",
                    consumer,
                    message.event_type,
                    attempt,
                    policy.max_attempts,
                    exc,
                    extra={
                        "tenant_id": message.tenant_id,
                        "saga_id": str(message.saga_id),
                        "event_id": str(message.event_id),
                    },
                )
                if attempt == policy.max_attempts:
                    reason = f"{consumer} gave up after {attempt} attempts: {exc!r}"
                    await park(producer, record, consumer=consumer, reason=reason, error=exc, attempts=attempt)
                    return "dead_lettered"
                await asyncio.sleep(policy.backoff(attempt, rng))
        raise AssertionError("unreachable: the last attempt returns")

    broker.subscriber(
        str(topic),
        group_id=f"bakeplan.{consumer}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        max_poll_interval_ms=300_000,
        # measured: with aiokafka's default 500 ms a saga hop often waited hundreds of ms on a fetch
        fetch_max_wait_ms=policy.fetch_max_wait_ms,
    )(on_record)
