"""The batch shell's record path on real Kafka and Postgres (infra/messaging/consumer_batch.py): a
partition fed one record at a time, as a saga's replies and commands mostly come when the fleet is
not saturated. Each record alone runs in a transaction that also counts its partition's next record
ahead, so only the first of them is counted by a statement and a transaction of its own; and a record
that fails alone runs once per delivery, as a record subscriber's would, and is parked after
`max_attempts` of them."""

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.envelope import Message
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.messaging.consumer import subscribe
from infra.messaging.kafka_client import new_broker
from infra.messaging.producer import create_producer
from infra.metrics import Metrics
from infra.settings import Settings
from tests.e2e.support import eventually, read_topic
from tests.e2e.test_consumer_batches import (
    POLICY,
    _CountingAttempts,
    _delivery_row,
    _rows,
    _trigger,
    _writer,
    topic,
    written,
)

pytestmark = pytest.mark.e2e

__all__ = ["topic", "written"]  # the fixtures, shared with the batch tests


class _Consumer:
    """A batch-shell consumer of `topic` in a group of its own; records are sent one at a time, each
    after `ready()` says the last one is done with."""

    def __init__(self, settings: Settings, engine: AsyncEngine, topic: str, handler: Callable[[Message], Any]) -> None:
        self.settings, self.engine, self.topic, self.handler = settings, engine, topic, handler
        run = uuid.uuid4().hex[:8]
        self.consumer, self.group = f"batch-single-{run}", settings.group(f"batch-single-{run}")
        self.counter = _CountingAttempts(engine)

    async def run(self, messages: list[PlanningRequested], ready: Callable[[int], Awaitable[bool | None]]) -> list[int]:
        """Send each of `messages` once `ready(i)` holds for the one before (i: how many were sent);
        the offsets sent."""
        producer = create_producer(self.settings, Principal.ADMIN)
        await producer.start()
        broker = new_broker(self.settings, Principal.ADMIN)
        subscribe(
            broker,
            producer,
            topic=self.topic,
            consumer=self.consumer,
            group=self.group,
            dead_letter=self.settings.topic(Topic.DEAD_LETTER),
            handler=self.handler,
            policy=POLICY,
            metrics=Metrics(),
            attempts=self.counter,
            batch_engine=self.engine,
        )
        offsets: list[int] = []
        try:
            await broker.start()
            for i, message in enumerate(messages):
                meta = await producer.send_and_wait(
                    self.topic, encode(message), key=message.tenant_id.encode(), partition=0
                )
                offsets.append(int(meta.offset))
                await eventually(functools.partial(ready, i + 1), timeout_s=60, what=f"record {i + 1} done with")
        finally:
            await broker.stop()
            await producer.stop()
        return offsets


async def test_records_one_at_a_time_are_counted_ahead_in_their_own_transactions(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    messages = [_trigger(f"a-{run}", day) for day in range(1, 6)]
    seq = {m.event_id: i for i, m in enumerate(messages)}
    consumer = _Consumer(settings, engine, topic, _writer(engine, written, seq))

    async def handled(n: int) -> bool | None:
        return True if len(await _rows(engine, written)) == n else None

    offsets = await consumer.run(messages, handled)

    rows = await _rows(engine, written)
    assert [r.event_id for r in rows] == [m.event_id for m in messages]  # each once, in order
    assert len({r.txid for r in rows}) == len(messages)  # each alone, in a transaction of its own
    # only the first was counted by a statement of its own; each counted the next one ahead
    assert consumer.counter.singles == [1]
    assert consumer.counter.begun == []
    assert consumer.counter.ahead == [[(topic, 0, offset + 1)] for offset in offsets]
    # ... in the transaction that wrote its row: the count's row was last written by the last record's
    async with engine.connect() as conn:
        xmin = (
            await conn.execute(
                text(
                    "SELECT xmin::text::bigint FROM production.delivery_attempts "
                    "WHERE consumer_group = :group AND topic = :topic"
                ),
                {"group": consumer.group, "topic": topic},
            )
        ).scalar_one()
    assert xmin == rows[-1].txid % 2**32
    assert await _delivery_row(engine, consumer.group, topic) == (offsets[-1] + 1, 1)


async def test_a_record_that_fails_alone_runs_once_per_delivery_and_is_parked(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    bad, good = _trigger(f"bad-{run}", 1), _trigger(f"bad-{run}", 2)
    seq = {bad.event_id: 0, good.event_id: 1}
    calls: dict[uuid.UUID, int] = {}
    write = _writer(engine, written, seq)

    async def handler(message: Message) -> None:
        calls[message.event_id] = calls.get(message.event_id, 0) + 1
        if message.event_id == bad.event_id:
            raise RuntimeError("a bug that never goes away")
        await write(message)

    parked: list[Any] = []

    async def done_with(n: int) -> bool | None:
        if n == 1:  # the bad one: parked
            parked[:] = await read_topic(settings, Topic.DEAD_LETTER, lambda r: r.key == bad.tenant_id.encode())
            return True if parked else None
        return True if len(await _rows(engine, written)) == 1 else None

    consumer = _Consumer(settings, engine, topic, handler)
    await consumer.run([bad, good], done_with)

    # one run per delivery, as a record subscriber's: its failed transaction is not run a second time
    assert calls[bad.event_id] == POLICY.max_attempts
    assert len(parked) == 1
    assert dict(parked[0].headers)["dlq.attempts"] == str(POLICY.max_attempts).encode()
    assert calls[good.event_id] == 1
    assert [r.event_id for r in await _rows(engine, written)] == [good.event_id]
