"""Every consumer of a role, as its composition root wires it, fed one record at a time without a broker.

`wired(settings, role)` builds the role with its real `create_app` (the real decode path, delivery
counting, handlers and Postgres stores) but with a broker that only collects the record handlers the
consumer shell registers, and a producer that only keeps what is sent (the dead-letter topic is the
only thing a consumer sends: its handlers write to their outbox). `deliver` then plays Kafka: it hands
the record to the consumer, and again while the consumer leaves it unacknowledged (a retry), up to a
bound, and says how it ended: processed (acknowledged, nothing parked) or parked (acknowledged, and
the original record on the dead-letter topic with a reason).
"""

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from aiokafka.structs import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser

from bakeplan.process import Process, Role, create_app
from contracts import headers as h
from contracts.topics import Topic
from infra.settings import Settings
from tests.fuzz.wire import WireRecord

OnRecord = Callable[[Any], Awaitable[None]]
_offsets = itertools.count(1_000)  # one offset per delivered record, so durable delivery counts never mix


class CollectingBroker:
    """Keeps the record handler of each subscription (topic → group → handler)."""

    def __init__(self) -> None:
        self.handlers: dict[str, dict[str, OnRecord]] = {}
        self.parsers: dict[str, Any] = {}

    def subscriber(
        self, topic: str, *, group_id: str, parser: Any = None, **_: object
    ) -> Callable[[OnRecord], OnRecord]:
        def register(handler: OnRecord) -> OnRecord:
            self.handlers.setdefault(topic, {})[group_id] = handler
            self.parsers[topic] = parser
            return handler

        return register


@dataclass
class Sent:
    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str:
        """The newest `name` header: parking appends its own after the record's (which may hold older ones)."""
        return [v for k, v in self.headers if k == name][-1].decode()


@dataclass
class KeepingProducer:
    sent: list[Sent] = field(default_factory=list)

    async def send_and_wait(
        self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None
    ) -> None:
        self.sent.append(Sent(topic, value, key, list(headers or ())))


class PausingConsumer:
    """What the shell asks of the Kafka consumer to schedule a retry: rewind and pause (here: nothing)."""

    def seek(self, *_: object) -> None: ...

    def pause(self, *_: object) -> None: ...

    def resume(self, *_: object) -> None: ...

    async def getmany(self, *_: object, **__: object) -> dict[object, list[ConsumerRecord[bytes, bytes]]]:
        """What a batch consumer has fetched besides the record in hand: nothing (one record at a time)."""
        return {}

    async def commit(self, *_: object) -> None: ...


class DeliveredRecord:
    """FastStream's message as the consumer shell sees it."""

    def __init__(self, raw: ConsumerRecord[bytes, bytes]) -> None:
        self.raw_message = raw
        self.consumer = PausingConsumer()
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


@dataclass(frozen=True)
class Outcome:
    parked: Sent | None
    deliveries: int

    @property
    def reason(self) -> str:
        assert self.parked is not None
        return self.parked.header(h.DLQ_REASON)


@dataclass
class Wired:
    process: Process
    broker: CollectingBroker
    producer: KeepingProducer

    def __repr__(self) -> str:  # in Hypothesis's report of a failing example
        return f"<{self.process.role} consumers>"

    def consumers(self) -> list[tuple[Topic, str]]:
        """(topic, consumer group) of every subscription the role made."""
        found = []
        for topic in Topic:
            for group in self.broker.handlers.get(self.process.settings.topic(topic), {}):
                found.append((topic, group))
        return found

    async def deliver(self, topic: Topic, group: str, record: WireRecord, *, max_deliveries: int = 12) -> Outcome:
        """Hand `record` to the consumer of `group` on `topic` until it acknowledges it; how it ended.

        Raises AssertionError when the consumer raised (a crash loop under Kafka) or never acknowledged.
        """
        name = self.process.settings.topic(topic)
        on_record = self.broker.handlers[name][group]
        raw: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            name, 0, next(_offsets), 0, 0, record.key, record.value, None,
            len(record.key or b""), len(record.value or b""), tuple(record.headers),
        )  # fmt: skip
        # FastStream's own parse step, with the parser the shell registers, before the shell sees the record
        default = AioKafkaParser(KafkaMessage, None).parse_message
        parser = self.broker.parsers[name]
        try:
            await (parser(raw, default) if parser is not None else default(raw))
        except Exception as exc:
            raise AssertionError(f"FastStream could not parse {record!r} ({exc!r}): the shell never sees it") from exc
        before = len(self.producer.sent)
        for delivery in range(1, max_deliveries + 1):
            delivered = DeliveredRecord(raw)
            try:
                await on_record(delivered)
            except Exception as exc:
                raise AssertionError(f"the {group} consumer on {name} raised {exc!r} on {record!r}") from exc
            if delivered.acked:
                parked = self.producer.sent[before:]
                assert len(parked) <= 1, f"{group} parked one record {len(parked)} times"
                return Outcome(parked[0] if parked else None, delivery)
        raise AssertionError(f"{group} on {name} never acknowledged {record!r} in {max_deliveries} deliveries")


@asynccontextmanager
async def wired(settings: Settings, role: Role) -> AsyncIterator[Wired]:
    """`role` built by its composition root, on a broker and producer that only collect."""
    broker = CollectingBroker()
    producer = KeepingProducer()
    with (
        mock.patch("bakeplan.process.new_broker", return_value=broker),
        mock.patch("bakeplan.process.create_producer", return_value=producer),
    ):
        process = create_app(settings, role)
    try:
        yield Wired(process, broker, producer)
    finally:
        await process.engine.dispose()
