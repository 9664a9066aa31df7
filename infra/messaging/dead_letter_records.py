"""Dead-lettered records: parsed, fingerprinted, matched and planned for replay, without any I/O.

A consumer parks a message it cannot process on `Topic.DEAD_LETTER` (see `park()` in
infra/messaging/consumer.py): the original key, value and headers plus `dlq.*` headers saying why
and where from. This module reads such a record into a `ParkedMessage`, chooses what a replay
publishes (`plan_replay`) and with which headers (`replay_headers`); `dead_letter_replay` does the
reading, publishing and recording against Kafka and Postgres.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from contracts import headers as h
from contracts.errors import BakeplanError
from contracts.headers import DLQ_PREFIX
from contracts.headers import REPLAYED_FROM as REPLAYED_FROM  # re-exported: dead-letter code reads it here
from contracts.topics import Topic

RecordId = tuple[int, int]
"""Where a record sits on the dead-letter topic: (partition, offset)."""

Headers = tuple[tuple[str, bytes], ...]


class DeadLetterError(BakeplanError):
    """The dead-letter topic could not be read or a replay could not finish; the message says what to do."""


class UnknownRecordError(DeadLetterError):
    """An id given to `parse_record_id` or `plan_replay` is malformed or names no record on the dead-letter topic."""


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
        if self.source_topic.endswith(str(Topic.DEAD_LETTER)):  # with or without a topic prefix
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
    """What a replay will publish, in order, and what it leaves alone and why."""

    replay: tuple[ParkedMessage, ...]
    skipped: tuple[tuple[ParkedMessage, str], ...]


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
        parked_at=parse_parked_at(_last_header(headers, h.DLQ_PARKED_AT), timestamp_ms),
        key=key,
        value=value,
        headers=tuple(headers),
        consumer=_last_header(headers, h.DLQ_CONSUMER) or "",
        source_topic=_last_header(headers, h.DLQ_SOURCE_TOPIC) or "",
        source_partition=_int_or_none(_last_header(headers, h.DLQ_SOURCE_PARTITION)),
        source_offset=_int_or_none(_last_header(headers, h.DLQ_SOURCE_OFFSET)),
        attempts=_int_or_none(_last_header(headers, h.DLQ_ATTEMPTS)),
        exception=_last_header(headers, h.DLQ_EXCEPTION) or "",
        reason=_last_header(headers, h.DLQ_REASON) or "",
        event_type=_last_header(headers, h.EVENT_TYPE) or body_event_type,
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
