"""What Kafka holds, read from outside the system under test: topic contents (read_committed, without
a consumer group), the committed offsets and members of bakeplan's consumer groups, and the one
write a test needs — moving a stopped group's offsets back."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata

from bakeplan.acl_table import Principal
from contracts.topics import Topic
from infra.messaging.kafka_client import new_admin, new_consumer
from infra.settings import Settings

Marks = dict[TopicPartition, int]
T = TypeVar("T")

# consumer group → the topics it reads (see bakeplan/process.py)
GROUP_TOPICS: dict[str, tuple[Topic, ...]] = {
    "bakeplan.orchestrator": (Topic.TRIGGERS, Topic.STEP_REPLIES),
    "bakeplan.forecasting": (Topic.FORECASTING_COMMANDS,),
    "bakeplan.production": (Topic.PRODUCTION_COMMANDS,),
    "bakeplan.procurement": (Topic.PROCUREMENT_COMMANDS,),
    "bakeplan.forecasting-plans": (Topic.PLANS,),
    "bakeplan.production-plans": (Topic.PLANS,),
    "bakeplan.procurement-plans": (Topic.PLANS,),
}


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


def _consumer(settings: Settings, group_id: str | None = None) -> AIOKafkaConsumer:
    return new_consumer(
        settings,
        Principal.ADMIN,
        group_id=group_id,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


async def partitions(settings: Settings, topics: Iterable[Topic] = tuple(Topic)) -> list[TopicPartition]:
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topic(t) for t in topics])
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def end_offsets(settings: Settings, topics: Iterable[Topic] = tuple(Topic)) -> Marks:
    """The current end (read_committed: last stable) offset of every partition of `topics`."""
    tps = await partitions(settings, topics)
    consumer = _consumer(settings)
    await consumer.start()
    try:
        ends: Mapping[TopicPartition, int] = await consumer.end_offsets(tps)
        return dict(ends)
    finally:
        await consumer.stop()


async def read_since(settings: Settings, marks: Marks, *, timeout_s: float = 60.0) -> list[Record]:
    """Every record from `marks` up to the end offsets as of now, in partition order."""
    if not marks:
        return []
    consumer = _consumer(settings)
    await consumer.start()
    try:
        tps = list(marks)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, marks[tp])
        todo = {tp for tp in tps if ends[tp] > marks[tp]}
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read up to the end offsets of {sorted(map(str, todo))} in {timeout_s} s")
            batch = await consumer.getmany(*todo, timeout_ms=500)
            for tp, rs in batch.items():
                records += [
                    Record(r.topic, r.partition, r.offset, r.key, r.value, dict(r.headers))
                    for r in rs
                    if r.offset < ends[tp]
                ]
            todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
        return records
    finally:
        await consumer.stop()


async def _admin(
    settings: Settings, call: Callable[[AIOKafkaAdminClient], Awaitable[T]], *, timeout_s: float = 30.0
) -> T:
    """Run `call` with an admin client, retrying while a fresh or just restarted broker is still
    creating or loading its offsets topic."""
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return await call(admin)
            except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def committed(settings: Settings, group: str) -> Marks:
    """The group's committed offsets (partitions it never committed are absent); `group` is its bakeplan
    name (`bakeplan.orchestrator`), without the settings' topic prefix."""
    offsets = await _admin(settings, lambda admin: admin.list_consumer_group_offsets(settings.topic_prefix + group))
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def assignments(settings: Settings, group_id: str) -> dict[str, list[TopicPartition]]:
    """The group's members now (member id → the partitions assigned to it)."""
    # one group per request: aiokafka 0.14 decodes a DescribeGroups v3 reply with the v2 schema,
    # which only goes unnoticed for a single group
    (response,) = await _admin(settings, lambda admin: admin.describe_consumer_groups([group_id]))
    members: dict[str, list[TopicPartition]] = {}
    for group in response.groups:
        # (error_code, group_id, state, protocol_type, protocol, members, ...)
        for member in group[5]:
            member_id, assignment = member[0], member[4]
            members[member_id] = ConsumerProtocolMemberAssignment.decode(assignment).partitions() if assignment else []
    return members


async def group_members(settings: Settings, groups: Sequence[str]) -> dict[str, int]:
    """How many members each group has now."""
    return {group: len(await assignments(settings, group)) for group in groups}


async def wait_groups_empty(settings: Settings, groups: Sequence[str], *, timeout_s: float) -> None:
    """Fail unless every group is empty within `timeout_s` (a fault test must own its consumers:
    a foreign member would take partitions, and messages, the test accounts for)."""
    deadline = time.monotonic() + timeout_s
    while True:
        busy = {g: n for g, n in (await group_members(settings, groups)).items() if n}
        if not busy:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"consumer groups still have members after {timeout_s} s: {busy}. Another bakeplan process "
                "is consuming from this Kafka; run the fault suite in a pytest session of its own "
                "(`pytest -m faults`) so the e2e tests' processes are not running."
            )
        await asyncio.sleep(0.5)


async def move_group_offsets(settings: Settings, group: str, offsets: Marks) -> None:
    """Commit `offsets` for `group`, which must have no members (stop its consumers first)."""
    consumer = _consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


def lag(committed_offsets: Marks, ends: Marks) -> int:
    """Records of `ends`' partitions the group has not committed yet (a never-committed partition
    counts from 0)."""
    return sum(max(0, end - committed_offsets.get(tp, 0)) for tp, end in ends.items())
