"""The consumer shell's batch path on real Kafka and Postgres (infra/messaging/consumer_batch.py):
the records of one fetch are handled in one transaction, and when that fails each is handled alone,
so a bad record is still retried and parked by itself and nothing of the failed batch stays twice.

The records are all published before the consumer starts, so its first fetch returns them together.
Each handler writes one row in an `infra.tracing.transaction` (as the workers do), with the id of the
transaction it ran in."""

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.envelope import Message
from contracts.errors import TransientError
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra import tracing
from infra.messaging import batch_tx
from infra.messaging.attempts import PostgresDeliveryAttempts
from infra.messaging.codec import encode
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.messaging.kafka_client import new_broker
from infra.messaging.producer import create_producer
from infra.metrics import Metrics
from infra.settings import Settings
from tests.e2e.support import eventually, private_topic, read_topic
from workers.production.tables import delivery_attempts

pytestmark = pytest.mark.e2e

POLICY = DeliveryPolicy(max_attempts=3, retry_base_seconds=0.2, fetch_max_wait_ms=50, batch_max_records=50)


@pytest.fixture
async def topic(settings: Settings) -> AsyncIterator[str]:
    async with private_topic(settings, "batches", partitions=2) as name:
        yield name


@pytest.fixture
async def written(engine: AsyncEngine) -> AsyncIterator[str]:
    """A table of its own: one row per message handled, with its transaction's id."""
    name = f"batch_probe_{uuid.uuid4().hex[:10]}"
    async with engine.begin() as conn:
        await conn.execute(
            text(f"CREATE TABLE {name} (event_id uuid PRIMARY KEY, tenant_id text, seq int, txid bigint)")
        )
    yield name
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP TABLE {name}"))


def _trigger(tenant: str, day: int) -> PlanningRequested:
    return PlanningRequested(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=date(2026, 11, day),
        source="external",
    )


async def _consume(
    settings: Settings,
    engine: AsyncEngine,
    topic: str,
    messages: list[PlanningRequested],
    handler: Callable[[Message], Any],
    done: Callable[[], Awaitable[bool]],
    parked_key: str | None = None,
    policy: DeliveryPolicy = POLICY,
    attempts: PostgresDeliveryAttempts | None = None,
) -> list[Any]:
    """Publish `messages` (each tenant on its own partition), then consume them with `handler` until
    `done()` and, with `parked_key`, a record of that key is in the dead-letter topic (returned)."""
    run = uuid.uuid4().hex[:8]
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    tenants = sorted({m.tenant_id for m in messages})
    for message in messages:
        partition = tenants.index(message.tenant_id) % 2
        await producer.send_and_wait(topic, encode(message), key=message.tenant_id.encode(), partition=partition)
    broker = new_broker(settings, Principal.ADMIN)
    subscribe(
        broker,
        producer,
        topic=topic,
        consumer=f"batch-test-{run}",
        group=settings.group(f"batch-test-{run}"),
        dead_letter=settings.topic(Topic.DEAD_LETTER),
        handler=handler,
        policy=policy,
        metrics=Metrics(),
        attempts=attempts or PostgresDeliveryAttempts(engine, delivery_attempts),
        batch_engine=engine,
    )
    await broker.start()
    try:
        await eventually(lambda: _true_or_none(done), timeout_s=60, what="every record handled")
        if parked_key is None:
            return []
        return await read_topic(settings, Topic.DEAD_LETTER, lambda r: r.key == parked_key.encode())
    finally:
        await broker.stop()
        await producer.stop()


async def _true_or_none(done: Callable[[], Awaitable[bool]]) -> bool | None:
    return True if await done() else None


async def _rows(engine: AsyncEngine, table: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (await conn.execute(text(f"SELECT event_id, tenant_id, seq, txid FROM {table} ORDER BY seq"))).all()
        )


def _writer(
    engine: AsyncEngine, table: str, seq: dict[uuid.UUID, int], fail: Callable[[Message], None] = lambda m: None
) -> Callable[[Message], Any]:
    """A handler that writes the message's row and then calls `fail`, in one transaction (as a worker
    writes its results and then finds a problem)."""

    async def write(message: Message) -> None:
        async with tracing.transaction(engine, "batch-test") as conn:
            await conn.execute(
                text(f"INSERT INTO {table} VALUES (:id, :tenant, :seq, txid_current())"),
                {"id": message.event_id, "tenant": message.tenant_id, "seq": seq[message.event_id]},
            )
            fail(message)

    return write


async def test_a_fetch_is_handled_in_one_transaction(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    messages = [_trigger(f"{tenant}-{run}", day) for day in range(1, 7) for tenant in ("a", "b")]
    seq = {m.event_id: i for i, m in enumerate(messages)}
    handled: list[uuid.UUID] = []
    in_batch: list[bool] = []
    write = _writer(engine, written, seq)

    async def handler(message: Message) -> None:
        in_batch.append(batch_tx.current(engine) is not None)
        await write(message)
        handled.append(message.event_id)

    async def done() -> bool:
        return len(await _rows(engine, written)) == len(messages)

    await _consume(settings, engine, topic, messages, handler, done)

    rows = await _rows(engine, written)
    assert sorted(r.event_id for r in rows) == sorted(m.event_id for m in messages)  # each once
    assert all(in_batch)
    # every row of the first fetch in one transaction: far fewer transactions than messages
    assert len({r.txid for r in rows}) < len(messages) / 2, [r.txid for r in rows]
    for tenant in {m.tenant_id for m in messages}:  # each tenant's order kept
        assert [i for i in handled if seq[i] in {seq[m.event_id] for m in messages if m.tenant_id == tenant}] == [
            m.event_id for m in messages if m.tenant_id == tenant
        ]


async def test_a_bad_record_fails_its_batch_and_is_parked_alone(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    messages = [_trigger(f"{tenant}-{run}", day) for day in range(1, 6) for tenant in ("a", "b")]
    bad, blip = messages[4], messages[7]  # a bug in the middle of tenant a's, a database blip in tenant b's
    seq = {m.event_id: i for i, m in enumerate(messages)}
    calls: dict[uuid.UUID, int] = {}

    def fail(message: Message) -> None:
        calls[message.event_id] = calls.get(message.event_id, 0) + 1
        if message.event_id == bad.event_id:
            raise RuntimeError(f"a bug that never goes away ({message.tenant_id})")
        if message.event_id == blip.event_id and calls[blip.event_id] == 1:
            raise TransientError("database briefly unreachable")

    handler = _writer(engine, written, seq, fail)

    async def done() -> bool:
        spent = calls.get(bad.event_id, 0) >= POLICY.max_attempts
        return spent and len(await _rows(engine, written)) == len(messages) - 1

    parked = await _consume(settings, engine, topic, messages, handler, done, parked_key=bad.tenant_id)

    rows = await _rows(engine, written)
    assert sorted(r.event_id for r in rows) == sorted(m.event_id for m in messages if m is not bad)  # each once
    assert len(parked) == 1
    headers = dict(parked[0].headers)
    assert headers["dlq.exception"] == b"RuntimeError"
    assert headers["dlq.attempts"] == str(POLICY.max_attempts).encode()
    # the bad record ran alone until its attempts were spent (and once more in the batch if the batch
    # reached it: a fetch's partitions come in no fixed order, and the blip may end the batch first)
    assert calls[bad.event_id] in (POLICY.max_attempts, POLICY.max_attempts + 1)
    assert calls[blip.event_id] == 2
    assert all(calls[m.event_id] <= 3 for m in messages if m is not bad)


async def test_a_long_batch_commits_its_first_part_early(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    messages = [_trigger(f"a-{run}", day) for day in range(1, 9)]
    seq = {m.event_id: i for i, m in enumerate(messages)}
    visible_before_last: list[int] = []
    write = _writer(engine, written, seq)

    async def handler(message: Message) -> None:
        if message.event_id == messages[-1].event_id and not visible_before_last:
            visible_before_last.append(len(await _rows(engine, written)))  # what others see meanwhile
        await asyncio.sleep(0.03)  # planning: each record takes 30 ms, a batch may take 50
        await write(message)

    async def done() -> bool:
        return len(await _rows(engine, written)) == len(messages)

    policy = dataclasses.replace(POLICY, batch_max_ms=50)
    counter = _CountingAttempts(engine)
    await _consume(settings, engine, topic, messages, handler, done, policy=policy, attempts=counter)

    rows = await _rows(engine, written)
    assert [r.event_id for r in rows] == [m.event_id for m in messages]  # each once, in order
    # one count statement for the fetch: each part counted the next ahead in its own transaction (and a
    # last record left alone used that count)
    assert counter.begun == [{(topic, 0): 1}]
    assert counter.singles == []
    assert len(counter.ahead) >= 3
    # two records per transaction (the second passes 50 ms): committed part by part, not at the end
    assert 3 <= len({r.txid for r in rows}) <= 5, [r.txid for r in rows]
    assert visible_before_last
    assert visible_before_last[0] >= 4


async def test_a_long_fetch_leaves_its_rest_for_the_next_fetch(
    settings: Settings, engine: AsyncEngine, topic: str, written: str, caplog: pytest.LogCaptureFixture
) -> None:
    run = uuid.uuid4().hex[:8]
    messages = [_trigger(f"{tenant}-{run}", day) for day in range(1, 9) for tenant in ("a", "b")]
    seq = {m.event_id: i for i, m in enumerate(messages)}
    handled: list[uuid.UUID] = []
    write = _writer(engine, written, seq)

    async def handler(message: Message) -> None:
        await asyncio.sleep(0.03)  # planning: 16 records of 30 ms each, a fetch may run 150 ms
        handled.append(message.event_id)  # before the write: a second delivery shows even when its write fails
        await write(message)

    async def done() -> bool:
        return len(await _rows(engine, written)) == len(messages)

    policy = dataclasses.replace(POLICY, fetch_max_ms=150)
    with caplog.at_level(logging.INFO, logger="infra.messaging.consumer"):
        await _consume(settings, engine, topic, messages, handler, done, policy=policy)

    left = [r.getMessage() for r in caplog.records if "left for the next fetch" in r.getMessage()]
    assert left, "the first fetch of 16 records (~480 ms) stopped after 150 ms"
    rows = await _rows(engine, written)
    # the rewound records came back in the next fetch: each handled once (a skipped rewind loses them,
    # one past the handled ones handles some twice), each tenant's in order
    assert sorted(r.event_id for r in rows) == sorted(m.event_id for m in messages)
    assert sorted(handled) == sorted(m.event_id for m in messages)
    for tenant in {m.tenant_id for m in messages}:
        assert [i for i in handled if i in {m.event_id for m in messages if m.tenant_id == tenant}] == [
            m.event_id for m in messages if m.tenant_id == tenant
        ]


class _CountingAttempts(PostgresDeliveryAttempts):
    """Production's counter, noting each count it was asked for."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, delivery_attempts)
        self.begun: list[dict[tuple[str, int], int]] = []
        self.singles: list[int] = []
        self.ahead: list[list[tuple[str, int, int]]] = []

    async def begin(self, group: str, topic: str, partition: int, offset: int) -> int:
        count = (await super().begin_many(group, [(topic, partition, offset)]))[(topic, partition)]
        self.singles.append(count)
        return count

    async def begin_many(self, group: str, records: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
        counts = await super().begin_many(group, records)
        self.begun.append(counts)
        return counts

    async def count_ahead(self, group: str, records: Sequence[tuple[str, int, int]]) -> bool:
        self.ahead.append(list(records))
        return await super().count_ahead(group, records)


async def _delivery_row(engine: AsyncEngine, group: str, topic: str) -> tuple[int, int]:
    t = delivery_attempts
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.c.record_offset, t.c.attempts).where(t.c.consumer_group == group, t.c.topic == topic)
            )
        ).one()
    return int(row.record_offset), int(row.attempts)


async def test_a_clean_stop_takes_the_count_ahead_back(
    settings: Settings, engine: AsyncEngine, topic: str, written: str
) -> None:
    run = uuid.uuid4().hex[:8]
    consumer, group = f"batch-ahead-{run}", settings.group(f"batch-ahead-{run}")
    messages = [_trigger(f"a-{run}", day) for day in range(1, 6)]
    seq = {m.event_id: i for i, m in enumerate(messages)}
    handler = _writer(engine, written, seq)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()

    async def send(message: PlanningRequested) -> int:
        meta = await producer.send_and_wait(topic, encode(message), key=message.tenant_id.encode(), partition=0)
        return int(meta.offset)

    def handled(n: int) -> Callable[[], Awaitable[bool | None]]:
        async def probe() -> bool | None:
            return True if len(await _rows(engine, written)) == n else None

        return probe

    async def consuming(counter: _CountingAttempts, sent: list[PlanningRequested], before_start: bool) -> int:
        """Consume `sent` (published before the consumer starts, so one batch, or after) and stop
        cleanly; the offset of the last."""
        offsets = [await send(m) for m in sent] if before_start else []
        broker = new_broker(settings, Principal.ADMIN)
        shell = subscribe(
            broker,
            producer,
            topic=topic,
            consumer=consumer,
            group=group,
            dead_letter=settings.topic(Topic.DEAD_LETTER),
            handler=handler,
            policy=dataclasses.replace(POLICY, batch_max_ms=600_000),  # one part, however slow
            metrics=Metrics(),
            attempts=counter,
            batch_engine=engine,
        )
        assert shell is not None
        await broker.start()
        try:
            offsets += [] if before_start else [await send(m) for m in sent]
            await eventually(handled(seq[sent[-1].event_id] + 1), timeout_s=60, what="the records handled")
        finally:
            await broker.stop()
            await shell.release()  # what a clean stop does (bakeplan/process.py)
        return offsets[-1]

    first, second = _CountingAttempts(engine), _CountingAttempts(engine)
    try:
        last = await consuming(first, messages[:4], before_start=True)
        after_stop = await _delivery_row(engine, group, topic)
        restarted_at = await consuming(second, messages[4:], before_start=False)
    finally:
        await producer.stop()

    assert [r.event_id for r in await _rows(engine, written)] == [m.event_id for m in messages]  # each once
    assert first.begun == [{(topic, 0): 1}]
    assert first.ahead == [[(topic, 0, last + 1)]]  # the batch counted the next record ahead ...
    assert after_stop == (last + 1, 0)  # ... and the clean stop took it back
    # so the restarted consumer counts its first record as a first delivery (2 had the count stayed)
    assert second.singles == [1]
    assert restarted_at == last + 1
