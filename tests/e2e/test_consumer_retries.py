"""The consumer shell on real Kafka: a failing tenant backs off without holding up the others,
keeps its own order, and is parked after its last attempt."""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from bakeplan.acl_table import Principal
from contracts.envelope import Message
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.messaging.kafka_client import new_broker
from infra.messaging.producer import create_producer
from infra.metrics import Metrics
from infra.settings import Settings
from tests.e2e.support import private_topic, read_topic

pytestmark = pytest.mark.e2e


@pytest.fixture
async def topic(settings: Settings) -> AsyncIterator[str]:
    async with private_topic(settings, "retries", partitions=3) as name:
        yield name


def _trigger(tenant: str) -> PlanningRequested:
    return PlanningRequested(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=date(2026, 11, 28),
        source="external",
    )


async def test_a_failing_tenant_backs_off_without_blocking_other_partitions(settings: Settings, topic: str) -> None:
    run = uuid.uuid4().hex[:8]
    flaky, steady, broken = f"flaky-{run}", f"steady-{run}", f"broken-{run}"
    attempts: dict[uuid.UUID, list[float]] = defaultdict(list)
    handled: list[uuid.UUID] = []
    policy = DeliveryPolicy(max_attempts=3, retry_base_seconds=1.0, fetch_max_wait_ms=50)
    first, second = _trigger(flaky), _trigger(flaky)
    doomed = _trigger(broken)
    all_done = asyncio.Event()

    first_failed = asyncio.Event()

    async def handler(message: Message) -> None:
        attempts[message.event_id].append(time.monotonic())
        if message.event_id == first.event_id:
            first_failed.set()
        if second.event_id in handled and len(attempts[doomed.event_id]) == policy.max_attempts:
            all_done.set()
        if message.tenant_id == broken:
            raise RuntimeError(f"a bug that never goes away ({message.tenant_id})")
        if message.tenant_id == flaky and len(attempts[message.event_id]) <= 2:
            raise ConnectionError("database briefly unreachable")
        handled.append(message.event_id)
        if second.event_id in handled and len(attempts[doomed.event_id]) == policy.max_attempts:
            all_done.set()

    broker = new_broker(settings, Principal.ADMIN)
    producer = create_producer(settings, Principal.ADMIN)
    await producer.start()
    subscribe(
        broker,
        producer,
        topic=topic,
        consumer=f"retry-test-{run}",
        group=settings.group(f"retry-test-{run}"),
        dead_letter=settings.topic(Topic.DEAD_LETTER),
        handler=handler,
        policy=policy,
        metrics=Metrics(),
    )
    await broker.start()
    try:
        others = [_trigger(steady) for _ in range(3)]
        for message in (first, second):
            await producer.send_and_wait(topic, encode(message), key=message.tenant_id.encode(), partition=0)
        # the other tenants' messages arrive while the flaky tenant waits out its first backoff (≥ 0.5 s):
        # a consumer that slept in place, or paused every partition, would handle them only after it
        async with asyncio.timeout(30):
            await first_failed.wait()
        sends = [*[(1, m) for m in others], (2, doomed)]
        for partition, message in sends:
            await producer.send_and_wait(topic, encode(message), key=message.tenant_id.encode(), partition=partition)

        async with asyncio.timeout(60):
            await all_done.wait()
        parked = await read_topic(settings, Topic.DEAD_LETTER, lambda r: r.key == broken.encode())
    finally:
        await broker.stop()
        await producer.stop()

    tries = attempts[first.event_id]
    assert len(tries) == 3  # failed twice, then handled: each attempt is one delivery, no hot loop
    assert tries[1] - tries[0] >= 0.5  # full-jitter backoff floors: 0.5 s, then 1 s
    assert tries[2] - tries[1] >= 1.0
    assert all(attempts[m.event_id][0] < tries[1] for m in others)  # the other partition went on meanwhile
    assert handled.index(first.event_id) < handled.index(second.event_id)  # the tenant's order is kept
    assert [m.event_id for m in others if m.event_id in handled] == [m.event_id for m in others]
    assert len(attempts[doomed.event_id]) == policy.max_attempts
    assert doomed.event_id not in handled
    assert len(parked) == 1
    headers = dict(parked[0].headers)
    assert headers["dlq.attempts"] == str(policy.max_attempts).encode()
    assert headers["dlq.exception"] == b"RuntimeError"
    assert headers["dlq.source.topic"] == topic.encode()
    assert headers["dlq.source.partition"] == b"2"
