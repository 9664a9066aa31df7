"""The consumer shell's batch path: every record of one fetch handled in one transaction.

A batch is handled together when all its records are fit to handle (none oversize, undecodable,
misrouted, or waiting on a claim check) and none was delivered before without its handling ending:

1. one statement counts the delivery of the first record of each partition in the batch
   (`DeliveryAttempts.begin_many`), durably, before any handler runs; a partition whose batch starts
   where its last one ended was counted by that batch, in its transaction (`count_ahead`), and needs
   no statement;
2. the handlers run in order inside one transaction (`infra.messaging.batch_tx`): each one's inbox
   claim, writes and outbox rows, as without batching, on one connection;
3. it commits once; the relay is woken once (NOTIFYs of one transaction reach listeners as one), and
   the offsets are committed once (`infra.messaging.consumer`).

A batch commits early, with its offsets, once its handlers have run `max_seconds`
(`BAKEPLAN_CONSUMER_BATCH_MS`), and the rest of the fetch goes on as the next batch, counted anew:
a worker plans each command before its writes, and a batch of 32 large tenants would otherwise hold
the first one's reply for seconds and leave the next step's worker idle meanwhile.

A fetch stops once its batches have run `max_fetch_seconds` (a quarter of max.poll.interval.ms): its
partitions are rewound to the first record not handled, and the next fetch returns the rest. A
consumer that handled a long fetch to its end would not poll in time: the group would drop it and
move its partitions, and it would come back as a new member.

Otherwise, and whenever the batch fails (a handler raised, its database went away, a handler needed
a transaction of its own), nothing of it stays and each record is handled alone, in order, exactly
as a record subscriber would: counted, retried with backoff, parked by itself. A partition whose
record is waiting for a retry has its later records left for the next fetch (the partition was
rewound to the waiting record). Record by record, each record's offset is committed once it is
handled. A process killed in the middle of a batch commits nothing of it; its redelivery finds the
first records counted twice and goes record by record, committing each, so the next redelivery
starts at the record that killed it, which is counted alone and parked after `max_attempts`
deliveries, while the others are handled once.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from infra import logs, tracing
from infra.crash_points import CrashPoints
from infra.messaging import batch_tx
from infra.messaging.attempts import DeliveryAttempts

log = logging.getLogger("infra.messaging.consumer")

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
Partition: TypeAlias = tuple[str, int]

HOLDING = ("retry_scheduled", "deferred")
"""Outcomes that leave a record for later: its partition was rewound to it and paused."""


@dataclass(frozen=True)
class BatchShell:
    consumer: str
    group_id: str
    engine: AsyncEngine
    handler: Callable[[Message], Awaitable[None]]
    deliveries: DeliveryAttempts
    crash_points: CrashPoints
    readable: Callable[[Record], Awaitable[Message | None]]
    """The record's message when it can be handled as it is, else None (the record path decides)."""
    deliver: Callable[[Record, AIOKafkaConsumer, int | None, Callable[[Message], Awaitable[None]]], Awaitable[str]]
    """The record path: handle one record alone, running `handler` on its message through the runner
    given. It counts the delivery, unless given its count (the last batch counted it ahead)."""
    forget: Callable[[Record], None]
    """Drop what the record path remembers of a record's failures."""
    together: Callable[[int], None] = lambda n: None
    """Hears the size of each batch handled in one transaction (a metric)."""
    max_seconds: float = 0.05
    """A batch commits once its handlers have run this long, and the rest of the fetch goes on in the
    next: the replies of its first records wait at most this long (plus one record)."""
    max_fetch_seconds: float = float("inf")
    """A fetch whose batches have run this long leaves the rest for the next fetch (its partitions are
    rewound to the first record not handled): the consumer polls again well within
    max.poll.interval.ms, or the group would drop it, and a rebalance would not wait for it."""
    ahead: dict[Partition, int] = field(default_factory=dict)
    """The offset each partition's next batch starts at, counted already by the last batch that
    committed it (`DeliveryAttempts.count_ahead`): a batch starting there writes no count of its own."""

    async def run(self, records: Sequence[Record], kafka: AIOKafkaConsumer) -> list[str]:
        """Handle `records` (one fetch, each partition's in offset order); the outcome of each record
        handled, in order (records left behind a waiting one, or for the next fetch, have none)."""
        outcomes: list[str] = []
        at = 0
        counted: dict[Partition, tuple[int, int]] = {}
        started = time.monotonic()
        while at < len(records):
            if at and time.monotonic() - started >= self.max_fetch_seconds:
                self._leave_for_next_fetch(kafka, records[at:], ran=time.monotonic() - started)
                return outcomes
            if len(records) - at == 1:  # alone, as a record subscriber would (a failure runs it once)
                return outcomes + await self._one_by_one(records[at:], kafka, counted)
            handled, counted = await self._together(records[at:], counted)
            if not handled:
                return outcomes + await self._one_by_one(records[at:], kafka, counted)
            outcomes += ["handled"] * handled
            at += handled
            if at < len(records):  # a part committed: its offsets too, so a later kill starts after it
                await self._commit_past(kafka, records[:at])
        return outcomes

    def _leave_for_next_fetch(self, kafka: AIOKafkaConsumer, records: Sequence[Record], *, ran: float) -> None:
        """Rewind each partition of `records` to its first one: the next fetch returns them again."""
        first: dict[Partition, int] = {}
        for raw in records:
            first.setdefault((raw.topic, raw.partition), raw.offset)
        owned = kafka.assignment()
        for (topic, partition), offset in first.items():
            tp = TopicPartition(topic, partition)
            if tp in owned:  # one a rebalance moved away is fetched by its new owner from its committed offset
                kafka.seek(tp, offset)
        log.info(
            "%s: a fetch ran %.1f s; %d record(s) left for the next fetch",
            self.consumer,
            ran,
            len(records),
            extra={"consumer": self.consumer},
        )

    async def _together(
        self, records: Sequence[Record], counted: dict[Partition, tuple[int, int]]
    ) -> tuple[int, dict[Partition, tuple[int, int]]]:
        """Handle a first part of `records` in one transaction: as many as `max_seconds` allow, up to
        the first record that is not fit to handle as it is, at least one. Returns how many it handled
        (0 when it failed or must not be tried), and the deliveries it counted by partition: (offset,
        count). Each message is decoded just before its handler runs: a batch of large replies holds
        one decoded at a time. `counted`: what an earlier part of the fetch counted; a partition it
        did not reach is not counted again."""
        first = await self.readable(records[0])
        if first is None:
            return 0, counted
        firsts: dict[Partition, int] = {}
        for raw in records:
            firsts.setdefault((raw.topic, raw.partition), raw.offset)
        counts = {tp: n for tp, (offset, n) in counted.items() if firsts.get(tp) == offset}
        for tp, offset in firsts.items():
            if self.ahead.pop(tp, None) == offset:
                counts.setdefault(tp, 1)  # counted by the batch before, in its transaction
        counted_before = {tp: (firsts[tp], n) for tp, n in counts.items()}
        uncounted = [
            (topic, partition, offset)
            for (topic, partition), offset in firsts.items()
            if (topic, partition) not in counts
        ]
        try:
            if uncounted:
                counts |= await self.deliveries.begin_many(self.group_id, uncounted)
        except Exception as exc:  # noqa: BLE001 - the record path counts (or waits) for each record
            log.warning(
                "%s could not count a batch's deliveries (%r); handling its records one by one", self.consumer, exc
            )
            return 0, counted_before
        counted = {tp: (offset, counts[tp]) for tp, offset in firsts.items()}
        if any(count > 1 for count in counts.values()):
            return 0, counted  # delivered before, never finished: find the record at fault, alone
        handled = 0
        started = time.monotonic()
        try:
            async with batch_tx.batch(self.engine):
                message: Message | None = first
                while message is not None:
                    await self._handle(records[handled], message)
                    handled += 1
                    if handled == len(records) or time.monotonic() - started >= self.max_seconds:
                        break  # commit what is done: a batch must not hold the first record's reply for long
                    message = await self.readable(records[handled])  # None: the record path decides on it
                nexts = {(raw.topic, raw.partition): raw.offset + 1 for raw in records[:handled]}
                ahead = await self.deliveries.count_ahead(self.group_id, [(t, p, o) for (t, p), o in nexts.items()])
        except Exception as exc:  # noqa: BLE001 - each record again, alone: it is retried or parked by itself
            log.info(
                "%s: a batch of %d records failed together (%r); handling each alone",
                self.consumer,
                handled + 1,
                exc,
                extra={"consumer": self.consumer},
            )
            return 0, counted
        if ahead:
            self.ahead.update(nexts)
        for raw in records[:handled]:
            self.forget(raw)
        self.together(handled)
        return handled, counted

    async def release(self, partitions: Iterable[Partition] | None = None) -> None:
        """Take back the counts made ahead for `partitions` (every one when None): this process will
        not start their next batches (it stops, or a rebalance moved them), and whoever does must find
        them uncounted. A process killed instead leaves them counted: its successor's first delivery
        there counts 2 and goes record by record, as after a kill in a batch."""
        chosen = list(self.ahead) if partitions is None else [tp for tp in partitions if tp in self.ahead]
        for topic, partition in chosen:
            offset = self.ahead.pop((topic, partition))
            try:
                await self.deliveries.refund(self.group_id, topic, partition, offset)
            except Exception as exc:  # noqa: BLE001 - left counted: one delivery more than it had, at worst
                log.warning(
                    "%s could not take back the count ahead of %s[%d] (%r)", self.consumer, topic, partition, exc
                )

    async def _handle(self, raw: Record, message: Message) -> None:
        with (
            tracing.consuming(consumer=self.consumer, topic=raw.topic, headers=raw.headers, message=message) as span,
            logs.message_context(
                tenant_id=message.tenant_id,
                saga_id=message.saga_id,
                event_id=message.event_id,
                event_type=message.event_type,
            ),
        ):
            if self.crash_points.armed:  # a message that kills its process (the fault suite's)
                self.crash_points.hit(f"{self.consumer}.handling:{message.event_type}:{message.tenant_id}")
            await self.handler(message)
            tracing.mark_outcome(span, "handled", failed=False)

    async def _one_by_one(
        self, records: Sequence[Record], kafka: AIOKafkaConsumer, counted: dict[Partition, tuple[int, int]]
    ) -> list[str]:
        """Each record alone, counted just before it is handled (not again when the last batch of its
        partition counted it ahead: a single record after a batch writes no count). The batch's counts are taken back
        first: a record that kills the process must not charge the records of other partitions it
        was fetched with (they would be parked after enough kills without ever having run)."""
        for (topic, partition), (offset, _) in counted.items():
            try:
                await self.deliveries.refund(self.group_id, topic, partition, offset)
            except Exception as exc:  # noqa: BLE001 - a count not taken back only makes it one higher
                log.warning("%s could not take back a batch's delivery count (%r); it counts", self.consumer, exc)
        outcomes: list[str] = []
        waiting: set[Partition] = set()
        for at, raw in enumerate(records):
            tp = (raw.topic, raw.partition)
            if tp in waiting:
                continue  # its partition was rewound to an earlier record: fetched again after it
            ahead = self.ahead.pop(tp, None) == raw.offset  # counted by the last batch: not again
            outcome = await self.deliver(raw, kafka, 1 if ahead else None, self._counting_next(raw))
            outcomes.append(outcome)
            if outcome in HOLDING:
                waiting.add(tp)
            elif at < len(records) - 1:  # the fetch's last is committed by the consumer's ack right after
                await self._commit_past(kafka, [raw])
        return outcomes

    def _counting_next(self, raw: Record) -> Callable[[Message], Awaitable[None]]:
        """How the record path runs the handler of `raw`, alone: in a transaction that also counts the
        delivery of its partition's next record ahead, as a batch does, so a partition fed one record
        at a time writes no count of its own for each (the handler's failures are judged as they
        always are: its transaction, and the count ahead, roll back). A handler that cannot share its
        transaction runs as it is, and its next record is counted when it comes."""

        async def run(message: Message) -> None:
            following = raw.offset + 1
            try:
                async with batch_tx.batch(self.engine):
                    await self.handler(message)
                    ahead = await self.deliveries.count_ahead(self.group_id, [(raw.topic, raw.partition, following)])
            except (batch_tx.NotBatchableError, batch_tx.BatchSpoiledError):
                await self.handler(message)  # nothing of the try was kept
                return
            if ahead:
                self.ahead[(raw.topic, raw.partition)] = following

        return run

    async def _commit_past(self, kafka: AIOKafkaConsumer, records: Sequence[Record]) -> None:
        """Commit the offsets past `records` now: if a later record of the batch kills the process, the
        redelivery starts after them (were it to start at the batch's first record again, the count
        would move between that record and the killer and never reach the limit)."""
        past = {TopicPartition(raw.topic, raw.partition): raw.offset + 1 for raw in records}
        try:
            await kafka.commit(past)
        except (KafkaError, IllegalStateError) as exc:
            # a rebalance moved the partition: its new owner re-reads the record and the inbox absorbs it
            log.warning("%s could not commit its offset (%r); the record will be redelivered", self.consumer, exc)


class ReleaseOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """A rebalance that moves partitions away takes back their counts made ahead (`BatchShell.release`).
    A batch still running then may count one ahead again: its new owner counts that delivery twice."""

    def __init__(self, shell: BatchShell) -> None:
        self._shell = shell

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._shell.release([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None
