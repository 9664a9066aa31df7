"""Dead-lettered messages: list them, and replay them to their source topic after a fix.

A consumer parks a message it cannot process on `Topic.DEAD_LETTER` (see `park()` in
infra/messaging/consumer.py): the original key, value and headers plus `dlq.*` headers saying why
and where from. Replaying re-publishes the original record to its source topic and only then records
the replay in `orchestrator.dead_letter_replays`: a crash in between re-publishes it on the next
replay, which consumers absorb by event id, whereas recording first could lose the message.

The parsing, filtering, selection and header building are plain functions; only `read_parked`,
`list_parked` and `replay` touch Kafka or Postgres.
"""

import getpass
import hashlib
import socket
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.errors import BakeplanError
from contracts.topics import Topic
from infra.db import create_engine
from infra.settings import Settings
from orchestrator.tables import dead_letter_replays

DLQ_PREFIX = "dlq."
REPLAYED_FROM = "dlq.replayed_from"

RecordId = tuple[int, int]
"""Where a record sits on the dead-letter topic: (partition, offset)."""

Headers = tuple[tuple[str, bytes], ...]


class DeadLetterError(BakeplanError):
    """The dead-letter topic could not be read or a replay could not finish; the message says what to do."""


class UnknownRecordError(DeadLetterError):
    """An id given to `replay` is malformed or names no record on the dead-letter topic."""


@dataclass(frozen=True)
class ParkedMessage:
    """One record of the dead-letter topic with its `dlq.*` headers parsed.

    `headers` are exactly as on the dead-letter topic (`dlq.*` included). A header a foreign producer
    left out becomes "" or None rather than an error, so listing never fails on one odd record;
    `unreplayable_because` says whether such a record can still be replayed.
    """

    dlt_partition: int
    dlt_offset: int
    parked_at: datetime  # aware; `dlq.parked_at`, else the Kafka record timestamp
    key: bytes | None
    value: bytes | None
    headers: Headers
    consumer: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    attempts: int | None
    exception: str
    reason: str
    event_type: str | None  # the `event_type` header, else the body's
    event_id: UUID | None  # None when the body does not parse
    replayed_from: str | None  # set when this record was itself a replay that got parked again
    digest: str  # sha256 of the record's timestamp, key, value and headers: see `record_digest`

    @property
    def record_id(self) -> RecordId:
        return (self.dlt_partition, self.dlt_offset)

    @property
    def id(self) -> str:
        """`P:O`, as `bakeplan dlq list` prints it and `bakeplan dlq replay --id` takes it."""
        return f"{self.dlt_partition}:{self.dlt_offset}"

    @property
    def tenant(self) -> str:
        """The record key: bakeplan keys every message by tenant id."""
        return self.key.decode("utf-8", errors="replace") if self.key is not None else ""

    @property
    def unreplayable_because(self) -> str | None:
        """Why this record cannot be replayed, or None if it can."""
        if not self.source_topic:
            return "it has no dlq.source.topic header (not parked by a bakeplan consumer), so it has nowhere to go"
        if self.source_topic == Topic.DEAD_LETTER:
            return "its source topic is the dead-letter topic itself"
        return None


@dataclass(frozen=True)
class PriorReplay:
    """A row of `dead_letter_replays`: the latest replay of one dead-letter record.

    `record_digest` is the replayed record's `ParkedMessage.digest` (None on rows written before it was
    recorded): a partition and offset alone name a different record once the topic is re-created.
    """

    replayed_at: datetime
    replayed_by: str
    record_digest: str | None = None

    def is_of(self, message: ParkedMessage) -> bool:
        """True if this replay was of `message`, not of an earlier record at the same partition and offset."""
        return self.record_digest is None or self.record_digest == message.digest


@dataclass(frozen=True)
class ReplayPlan:
    """What `replay` will publish, in order, and what it leaves alone and why."""

    replay: tuple[ParkedMessage, ...]
    skipped: tuple[tuple[ParkedMessage, str], ...]


# --- pure parts --------------------------------------------------------------------------------------


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _last_header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    # park() appends its headers after the original ones, so the last occurrence is the newest parking
    found = [value for key, value in headers if key == name]
    return _text(found[-1]) if found else None


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_parked_at(header: str | None, timestamp_ms: int) -> datetime:
    """The `dlq.parked_at` header (ISO 8601; naive means UTC); without a readable one, the record timestamp."""
    if header:
        try:
            parsed = datetime.fromisoformat(header)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)


def body_identity(value: bytes | None) -> tuple[UUID | None, str | None]:
    """(event_id, event_type) read leniently from a body that may be invalid; None where unreadable."""
    try:
        obj = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    event_id: UUID | None = None
    raw_id = obj.get("event_id")
    if isinstance(raw_id, str):
        try:
            event_id = UUID(raw_id)
        except ValueError:
            event_id = None
    event_type = obj.get("event_type")
    return event_id, event_type if isinstance(event_type, str) else None


def record_digest(
    *, timestamp_ms: int, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> str:
    """A fingerprint of one Kafka record that survives nothing but the record itself.

    Offsets restart at 0 when the dead-letter topic (or the whole Kafka cluster) is re-created while
    Postgres keeps `dead_letter_replays`; the digest tells a new record at an old offset from the
    replayed one. Length prefixes keep (key, value) = (b"ab", b"c") apart from (b"a", b"bc").
    """
    h = hashlib.sha256(str(timestamp_ms).encode())
    parts = [key, value, *(part for header in headers for part in (header[0].encode(), header[1]))]
    for part in parts:
        h.update(b"-" if part is None else b"%d:" % len(part) + part)
    return h.hexdigest()


def parse_parked(
    *,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> ParkedMessage:
    """Parse one dead-letter record (never raises: odd headers become empty fields)."""
    event_id, body_event_type = body_identity(value)
    return ParkedMessage(
        dlt_partition=partition,
        dlt_offset=offset,
        parked_at=parse_parked_at(_last_header(headers, "dlq.parked_at"), timestamp_ms),
        key=key,
        value=value,
        headers=tuple(headers),
        consumer=_last_header(headers, "dlq.consumer") or "",
        source_topic=_last_header(headers, "dlq.source.topic") or "",
        source_partition=_int_or_none(_last_header(headers, "dlq.source.partition")),
        source_offset=_int_or_none(_last_header(headers, "dlq.source.offset")),
        attempts=_int_or_none(_last_header(headers, "dlq.attempts")),
        exception=_last_header(headers, "dlq.exception") or "",
        reason=_last_header(headers, "dlq.reason") or "",
        event_type=_last_header(headers, "event_type") or body_event_type,
        event_id=event_id,
        replayed_from=_last_header(headers, REPLAYED_FROM),
        digest=record_digest(timestamp_ms=timestamp_ms, key=key, value=value, headers=headers),
    )


def parse_record_id(text: str) -> RecordId:
    """`P:O` → (partition, offset). Raises `UnknownRecordError` naming the text if it is not that shape."""
    partition, sep, offset = text.strip().partition(":")
    if sep and partition.isdigit() and offset.isdigit():
        return int(partition), int(offset)
    raise UnknownRecordError(
        f"{text!r} is not a dead-letter record id: use PARTITION:OFFSET as `bakeplan dlq list` prints it, e.g. 3:17"
    )


def matches(
    message: ParkedMessage,
    *,
    consumer: str | None = None,
    source_topic: str | None = None,
    tenant: str | None = None,
) -> bool:
    """True if `message` passes every filter that is given (exact matches)."""
    return (
        (consumer is None or message.consumer == consumer)
        and (source_topic is None or message.source_topic == source_topic)
        and (tenant is None or message.tenant == tenant)
    )


def replay_headers(message: ParkedMessage) -> list[tuple[str, bytes]]:
    """The original headers in their order, without any `dlq.*` one, plus `dlq.replayed_from` = "P:O"."""
    original = [(key, value) for key, value in message.headers if not key.startswith(DLQ_PREFIX)]
    return [*original, (REPLAYED_FROM, message.id.encode())]


def plan_replay(
    parked: Sequence[ParkedMessage],
    *,
    ids: Sequence[RecordId] | None,
    consumer: str | None,
    source_topic: str | None,
    prior: Mapping[RecordId, PriorReplay],
    force: bool,
) -> ReplayPlan:
    """Choose what to replay: the records named by `ids` (all records if None) that pass the filters.

    A record already replayed (in `prior`) is skipped unless `force`; one that cannot be replayed is
    skipped with the reason. The order is that of `parked`. Raises `UnknownRecordError` naming every id
    that is not on the topic, before anything is chosen, so a typo publishes nothing.
    """
    by_id = {m.record_id: m for m in parked}
    if ids is not None:
        unknown = [f"{p}:{o}" for p, o in ids if (p, o) not in by_id]
        if unknown:
            raise UnknownRecordError(
                f"no dead-letter record {', '.join(unknown)} on {Topic.DEAD_LETTER}; "
                "list them with `bakeplan dlq list` (ids are PARTITION:OFFSET)"
            )
    wanted = set(ids) if ids is not None else None
    replay: list[ParkedMessage] = []
    skipped: list[tuple[ParkedMessage, str]] = []
    for message in parked:
        if wanted is not None and message.record_id not in wanted:
            continue
        before = prior.get(message.record_id)
        before = before if before is not None and before.is_of(message) else None
        if not matches(message, consumer=consumer, source_topic=source_topic):
            if wanted is not None:  # named explicitly: say why it was left alone
                skipped.append((message, "it does not match --consumer/--source-topic"))
        elif (why := message.unreplayable_because) is not None:
            skipped.append((message, why))
        elif before is not None and not force:
            skipped.append(
                (
                    message,
                    f"already replayed at {before.replayed_at:%Y-%m-%d %H:%M:%S} by {before.replayed_by} "
                    "(use --force to replay it again)",
                )
            )
        else:
            replay.append(message)
    return ReplayPlan(replay=tuple(replay), skipped=tuple(skipped))


def to_json(message: ParkedMessage, prior: PriorReplay | None) -> dict[str, Any]:
    """One record as `bakeplan dlq list --json` prints it (full reason; original headers as text)."""
    return {
        "id": message.id,
        "dlt_partition": message.dlt_partition,
        "dlt_offset": message.dlt_offset,
        "parked_at": message.parked_at.isoformat(),
        "consumer": message.consumer,
        "source_topic": message.source_topic,
        "source_partition": message.source_partition,
        "source_offset": message.source_offset,
        "key": message.tenant,
        "event_type": message.event_type,
        "event_id": str(message.event_id) if message.event_id else None,
        "attempts": message.attempts,
        "exception": message.exception,
        "reason": message.reason,
        "replayed_from": message.replayed_from,
        "headers": {key: _text(value) for key, value in message.headers if not key.startswith(DLQ_PREFIX)},
        "replayed": prior is not None,
        "replayed_at": prior.replayed_at.isoformat() if prior else None,
        "replayed_by": prior.replayed_by if prior else None,
    }


def operator_name() -> str:
    """Who replays, for `dead_letter_replays.replayed_by`: `user@host`."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:200]


# --- Kafka and Postgres ------------------------------------------------------------------------------


async def _partitions_of(settings: Settings, topic: str) -> list[int]:
    """The partitions of `topic`, [] if it does not exist (asked without creating it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="bakeplan-dlq")
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


async def read_parked(settings: Settings, *, timeout_s: float = 30.0) -> list[ParkedMessage]:
    """Every committed record of the dead-letter topic up to its end at the time of the call, oldest first.

    No consumer group and no commits, so it steals no partitions and moves no offsets. Stops at the end
    offsets taken at the start (records parked meanwhile are left for the next call). Raises
    `DeadLetterError` if Kafka is unreachable or the end is not reached within `timeout_s`.
    """
    partitions = [TopicPartition(str(Topic.DEAD_LETTER), p) for p in await _partitions_of(settings, Topic.DEAD_LETTER)]
    if not partitions:
        return []  # nothing was ever parked
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
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
                    f"could not read {Topic.DEAD_LETTER} to its end within {timeout_s:.0f} s ({where}); "
                    f"is Kafka at {settings.kafka_bootstrap} healthy?"
                )
        return sorted(found, key=lambda m: (m.parked_at, m.dlt_partition, m.dlt_offset))
    finally:
        await consumer.stop()


async def prior_replays(conn: AsyncConnection, messages: Collection[ParkedMessage]) -> dict[RecordId, PriorReplay]:
    """The recorded replays of `messages` (rows left by an earlier record at the same offset are not theirs)."""
    if not messages:
        return {}
    t = dead_letter_replays.c
    rows = await conn.execute(
        select(t.dlt_partition, t.dlt_offset, t.replayed_at, t.replayed_by, t.record_digest).where(
            tuple_(t.dlt_partition, t.dlt_offset).in_([m.record_id for m in messages])
        )
    )
    by_id = {m.record_id: m for m in messages}
    found = {(r.dlt_partition, r.dlt_offset): PriorReplay(r.replayed_at, r.replayed_by, r.record_digest) for r in rows}
    return {record_id: prior for record_id, prior in found.items() if prior.is_of(by_id[record_id])}


async def record_replay(conn: AsyncConnection, message: ParkedMessage, *, replayed_by: str) -> None:
    """Upsert the replay row: a forced replay (or a concurrent operator) overwrites it with the latest one."""
    values = {
        "source_topic": message.source_topic,
        "event_id": message.event_id,
        "record_digest": message.digest,
        "replayed_by": replayed_by,
        "replayed_at": func.now(),  # the database's clock, like the column default
    }
    statement = insert(dead_letter_replays).values(
        dlt_partition=message.dlt_partition, dlt_offset=message.dlt_offset, **values
    )
    await conn.execute(statement.on_conflict_do_update(index_elements=["dlt_partition", "dlt_offset"], set_=values))


async def list_parked(
    settings: Settings,
    *,
    consumer: str | None = None,
    source_topic: str | None = None,
    tenant: str | None = None,
    limit: int | None = None,
) -> list[tuple[ParkedMessage, PriorReplay | None]]:
    """The parked records passing the filters, newest last (at most the newest `limit`), with their replays."""
    parked = [
        m
        for m in await read_parked(settings)
        if matches(m, consumer=consumer, source_topic=source_topic, tenant=tenant)
    ]
    if limit is not None:
        parked = parked[-limit:] if limit > 0 else []
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            prior = await prior_replays(conn, parked)
    finally:
        await engine.dispose()
    return [(m, prior.get(m.record_id)) for m in parked]


async def replay(
    settings: Settings,
    *,
    ids: Sequence[RecordId] | None,
    consumer: str | None = None,
    source_topic: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    replayed_by: str,
) -> ReplayPlan:
    """Re-publish the chosen records (see `plan_replay`) to their source topics; returns the plan carried out.

    Each record goes out with its original key, value and headers minus `dlq.*` plus `dlq.replayed_from`,
    through an idempotent producer (acks=all), and its row in `dead_letter_replays` is written only after
    Kafka acknowledged it. `dry_run` publishes and records nothing. Raises `UnknownRecordError` for an id
    not on the topic (nothing published), `DeadLetterError` if Kafka fails midway (saying how many went out).
    """
    parked = await read_parked(settings)
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            wanted = set(ids) if ids is not None else None
            prior = await prior_replays(conn, [m for m in parked if wanted is None or m.record_id in wanted])
        plan = plan_replay(parked, ids=ids, consumer=consumer, source_topic=source_topic, prior=prior, force=force)
        if dry_run or not plan.replay:
            return plan
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, acks="all")
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
                    await record_replay(conn, message, replayed_by=replayed_by)
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
