"""Fuzzed records through the real Kafka consumer, end to end: a production worker runs in this process
on the real broker (its own topic prefix) and the fuzz tier's Postgres; three dozen drawn records go to
its two topics. Each is then past the consumer groups' committed offsets, and either parked on the
dead-letter topic with a reason or counted as handled: none skipped, none left behind."""

import asyncio
import time
from collections.abc import Iterator

import pytest
from aiokafka.structs import RecordMetadata
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bakeplan.acl_table import Principal
from bakeplan.process import create_app
from contracts.topics import Topic
from infra.messaging.dead_letter_replay import read_parked
from infra.messaging.producer import create_producer
from infra.settings import Settings
from tests.conftest import _own_topics
from tests.faults.kafka_state import committed
from tests.fuzz.profiles import fuzz_settings
from tests.fuzz.test_consumers import refused_by_the_shell
from tests.fuzz.wire import WireRecord, records

pytestmark = pytest.mark.fuzz
TOPICS = {Topic.PRODUCTION_COMMANDS: "production", Topic.PLANS: "production-plans"}  # topic → consumer


@pytest.fixture(scope="module")
def kafka_settings(fuzz_settings: Settings, kafka_bootstrap: str) -> Iterator[Settings]:
    """The tier's database, and topics of its own on the real broker (provisioned with their ACLs on a
    secure one, deleted at the end)."""
    with _own_topics(kafka_bootstrap) as prefix:
        yield fuzz_settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic_prefix": prefix})


batches = st.lists(
    st.sampled_from(sorted(TOPICS))
    .flatmap(lambda topic: records(topic).map(lambda record: (topic, record)))
    .filter(lambda sent: sent[1].key is not None or sent[1].value is not None),  # Kafka takes no such record
    min_size=36,
    max_size=36,
)


# one batch, not shrunk: each run starts a worker on Kafka (a failure prints the whole batch)
@settings(fuzz_settings(examples=1), max_examples=1, phases=[Phase.explicit, Phase.generate])
@given(batch=batches)
async def test_fuzzed_records_on_kafka_are_each_processed_or_parked(
    kafka_settings: Settings, batch: list[tuple[Topic, WireRecord]]
) -> None:
    s = kafka_settings
    worker = create_app(s, "production")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    producer = create_producer(s, Principal.ADMIN)
    await producer.start()
    sent: list[tuple[Topic, WireRecord, RecordMetadata]] = []
    try:
        for topic, record in batch:
            meta = await producer.send_and_wait(s.topic(topic), value=record.value, key=record.key,
                                                headers=record.headers)  # fmt: skip
            sent.append((topic, record, meta))
        ends: dict[tuple[str, int], int] = {}
        for _, _, meta in sent:
            ends[(meta.topic, meta.partition)] = max(ends.get((meta.topic, meta.partition), 0), meta.offset + 1)
        deadline = time.monotonic() + 60
        while True:  # every record acknowledged: its group's committed offset is past it
            marks: dict[tuple[str, int], int] = {}
            for consumer in TOPICS.values():
                offsets = await committed(s, f"bakeplan.{consumer}")
                marks |= {(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
            behind = {at: end for at, end in ends.items() if marks.get(at, 0) < end}
            if not behind:
                break
            assert not running.done(), f"the worker stopped: {running.exception()!r}"
            assert time.monotonic() < deadline, f"records never acknowledged (topic, partition → end): {behind}"
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        stop.set()
        await running

    parked = {(p.source_topic, p.source_partition, p.source_offset): p for p in await read_parked(s, principal="admin")}
    handled = 0
    for topic, record, meta in sent:
        dead = parked.get((meta.topic, meta.partition, meta.offset))
        if refused_by_the_shell(record) is not None:
            assert dead is not None, f"{record!r} on {topic} was not parked"
        if dead is None:
            handled += 1
            continue
        assert dead.reason.strip(), f"{record!r} parked without a reason"
        assert (dead.value, dead.key) == (record.value, record.key)
    ours = {(m.topic, m.partition, m.offset) for _, _, m in sent}
    assert sum(1 for at in parked if at in ours) == len(sent) - handled
    counted = sum(
        worker.metrics.registry.get_sample_value("bakeplan_messages_total", {"consumer": c, "outcome": o}) or 0.0
        for c in TOPICS.values()
        for o in ("handled", "retried")
    )
    assert counted == handled, f"{handled} records not parked, but {counted} handled by the worker"
