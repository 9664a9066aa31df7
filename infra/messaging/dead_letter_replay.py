"""Dead-lettered messages against Kafka and Postgres: list them, and replay them to their source topic.

Replaying re-publishes the original record to its source topic and only then records the replay in
the replays table (`infra.messaging.tables.dead_letter_replays_table`, which the caller passes in as
`replays`): a crash in between re-publishes it on the next replay, which consumers absorb by event id,
whereas recording first could lose the message. What to replay and with which headers is decided by
the pure `dead_letter_records`.
"""

import getpass
import socket
import time
from collections.abc import Collection, Sequence

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.topics import Topic
from infra.db import create_engine
from infra.messaging.dead_letter_records import (
    DeadLetterError,
    ParkedMessage,
    PriorReplay,
    RecordId,
    ReplayPlan,
    matches,
    parse_parked,
    plan_replay,
    replay_headers,
)
from infra.messaging.kafka_client import new_admin, new_consumer, new_producer
from infra.settings import Settings


def operator_name() -> str:
    """Who replays, for the replay row's `replayed_by`: `user@host`."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:200]


async def _partitions_of(settings: Settings, topic: str, principal: str) -> list[int]:
    """The partitions of `topic`, [] if it does not exist (asked without creating it)."""
    admin = new_admin(settings, principal, client_id="bakeplan-dlq")
    try:
        await admin.start()
    except KafkaError as exc:
        raise DeadLetterError(
            f"cannot reach Kafka at {settings.kafka_bootstrap} ({exc!r}); start it with `bakeplan stack up` "
            "or set BAKEPLAN_KAFKA_BOOTSTRAP"
        ) from exc
    try:
        # all topics: a metadata request naming a missing topic could auto-create it with broker defaults
        described = await admin.describe_topics()
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])


async def read_parked(settings: Settings, *, principal: str, timeout_s: float = 30.0) -> list[ParkedMessage]:
    """Every committed record of the dead-letter topic up to its end at the time of the call, oldest first.

    No consumer group and no commits, so it steals no partitions and moves no offsets. Stops at the end
    offsets taken at the start (records parked meanwhile are left for the next call). Raises
    `DeadLetterError` if Kafka is unreachable or the end is not reached within `timeout_s`.
    """
    dead_letter = settings.topic(Topic.DEAD_LETTER)
    partitions = [TopicPartition(dead_letter, p) for p in await _partitions_of(settings, dead_letter, principal)]
    if not partitions:
        return []  # nothing was ever parked
    consumer = new_consumer(
        settings,
        principal,
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        # read_committed: the end offsets are the last stable offsets, so an open transaction cannot stall us
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > starts[tp]}
        for tp in pending:
            consumer.seek(tp, starts[tp])
        found: list[ParkedMessage] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, records in batch.items():
                found += [
                    parse_parked(
                        partition=r.partition,
                        offset=r.offset,
                        timestamp_ms=r.timestamp,
                        key=r.key,
                        value=r.value,
                        headers=r.headers,
                    )
                    for r in records
                    if r.offset < ends[tp]
                ]
            # the position, not the last record, decides: aborted batches and markers have no records
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
            if pending and time.monotonic() > deadline:
                behind = [f"partition {tp.partition} at {await consumer.position(tp)} of {ends[tp]}" for tp in pending]
                where = ", ".join(sorted(behind))
                raise DeadLetterError(
                    f"could not read {dead_letter} to its end within {timeout_s:.0f} s ({where}); "
                    f"is Kafka at {settings.kafka_bootstrap} healthy?"
                )
        return sorted(found, key=lambda m: (m.parked_at, m.dlt_partition, m.dlt_offset))
    finally:
        await consumer.stop()


async def prior_replays(
    conn: AsyncConnection, messages: Collection[ParkedMessage], *, replays: Table
) -> dict[RecordId, PriorReplay]:
    """The replays of `messages` in `replays` (rows left by an earlier record at the same offset are not theirs)."""
    if not messages:
        return {}
    t = replays.c
    rows = await conn.execute(
        select(t.dlt_partition, t.dlt_offset, t.replayed_at, t.replayed_by, t.record_digest).where(
            tuple_(t.dlt_partition, t.dlt_offset).in_([m.record_id for m in messages])
        )
    )
    by_id = {m.record_id: m for m in messages}
    found = {(r.dlt_partition, r.dlt_offset): PriorReplay(r.replayed_at, r.replayed_by, r.record_digest) for r in rows}
    return {record_id: prior for record_id, prior in found.items() if prior.is_of(by_id[record_id])}


async def record_replay(conn: AsyncConnection, message: ParkedMessage, *, replays: Table, replayed_by: str) -> None:
    """Upsert the row in `replays`: a forced replay (or a concurrent operator) overwrites it with the latest one."""
    values = {
        "source_topic": message.source_topic,
        "event_id": message.event_id,
        "record_digest": message.digest,
        "replayed_by": replayed_by,
        "replayed_at": func.now(),  # the database's clock, like the column default
    }
    statement = insert(replays).values(dlt_partition=message.dlt_partition, dlt_offset=message.dlt_offset, **values)
    await conn.execute(statement.on_conflict_do_update(index_elements=["dlt_partition", "dlt_offset"], set_=values))


async def list_parked(
    settings: Settings,
    *,
    principal: str,
    replays: Table,
    consumer: str | None = None,
    source_topic: str | None = None,
    tenant: str | None = None,
    limit: int | None = None,
) -> list[tuple[ParkedMessage, PriorReplay | None]]:
    """The parked records passing the filters, newest last (at most the newest `limit`), with their replays.

    `replays` is the table `dead_letter_replays_table` built in the caller's schema. `source_topic` is a
    topic's bakeplan name (`bakeplan.planning.triggers`), without the installation's topic prefix.
    """
    topic = None if source_topic is None else settings.topic(source_topic)
    parked = [
        m
        for m in await read_parked(settings, principal=principal)
        if matches(m, consumer=consumer, source_topic=topic, tenant=tenant)
    ]
    if limit is not None:
        parked = parked[-limit:] if limit > 0 else []
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            prior = await prior_replays(conn, parked, replays=replays)
    finally:
        await engine.dispose()
    return [(m, prior.get(m.record_id)) for m in parked]


async def replay(
    settings: Settings,
    *,
    principal: str,
    replays: Table,
    ids: Sequence[RecordId] | None,
    consumer: str | None = None,
    source_topic: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    replayed_by: str,
) -> ReplayPlan:
    """Re-publish the chosen records (see `plan_replay`) to their source topics; returns the plan carried out.

    Each record goes out with its original key, value and headers minus `dlq.*` plus `dlq.replayed_from`,
    through an idempotent producer (acks=all), and its row in `replays` (a `dead_letter_replays_table`) is
    written only after Kafka acknowledged it. `dry_run` publishes and records nothing. Raises
    `UnknownRecordError` for an id not on the topic (nothing published), `DeadLetterError` if Kafka fails
    midway (saying how many went out).
    """
    parked = await read_parked(settings, principal=principal)
    source_topic = None if source_topic is None else settings.topic(source_topic)
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            wanted = set(ids) if ids is not None else None
            prior = await prior_replays(
                conn, [m for m in parked if wanted is None or m.record_id in wanted], replays=replays
            )
        plan = plan_replay(parked, ids=ids, consumer=consumer, source_topic=source_topic, prior=prior, force=force)
        if dry_run or not plan.replay:
            return plan
        producer = new_producer(settings, principal, enable_idempotence=True, acks="all")
        try:
            await producer.start()
        except KafkaError as exc:
            raise DeadLetterError(
                f"cannot reach Kafka at {settings.kafka_bootstrap} ({exc!r}); nothing replayed"
            ) from exc
        done = 0
        try:
            for message in plan.replay:
                await producer.send_and_wait(
                    message.source_topic, message.value, key=message.key, headers=replay_headers(message)
                )
                async with engine.begin() as conn:
                    await record_replay(conn, message, replays=replays, replayed_by=replayed_by)
                done += 1
        except KafkaError as exc:
            raise DeadLetterError(
                f"replayed {done} of {len(plan.replay)} records, then Kafka failed ({exc!r}); run the same command "
                "again: the ones already replayed are skipped"
            ) from exc
        finally:
            await producer.stop()
        return plan
    finally:
        await engine.dispose()
