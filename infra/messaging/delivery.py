"""What the consumer shell decides per record, apart from running the handler: the delivery policy,
parking a record in the dead-letter topic, what makes a well-formed record still unfit, and the
pause/rewind that schedules a retry (`infra.messaging.consumer`)."""

import asyncio
import itertools
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from contracts import headers as h
from contracts.envelope import Message
from contracts.topics import Topic

log = logging.getLogger("infra.messaging.consumer")


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
    batch_max_records: int = 1
    """Records a consumer takes from one fetch and handles in one transaction (`infra.messaging.
    consumer_batch`); 1 handles each record alone."""
    batch_max_ms: int = 50
    """A batch commits once its handlers have run this long; the rest of the fetch goes on in the next."""
    fetch_max_ms: int | None = None
    """A fetch's batches stop after this long and leave the rest for the next fetch; None: a quarter of
    `max_poll_interval_ms`, so the consumer polls again well within it."""

    @property
    def fetch_budget_seconds(self) -> float:
        return (self.fetch_max_ms if self.fetch_max_ms is not None else self.max_poll_interval_ms / 4) / 1000

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        ceiling = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


async def park(
    producer: AIOKafkaProducer,
    raw: ConsumerRecord[bytes, bytes],
    *,
    consumer: str,
    reason: str,
    error: BaseException,
    attempts: int,
    dead_letter: str = str(Topic.DEAD_LETTER),
) -> None:
    """Publish the original bytes and headers to the dead-letter topic (`dead_letter`, its Kafka name),
    with why and where from."""
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


class Retries:
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
