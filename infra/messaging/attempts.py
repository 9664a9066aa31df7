"""Durable delivery attempts: how often handling of the record a consumer group is at began.

Counted in Postgres, in a transaction of its own committed before the handler runs, so a delivery
that kills or hangs its process (SIGKILL, out of memory, a rebalance after a stall) still counts, and
the record is parked after `max_attempts` deliveries whatever happened to the processes in between.
A batch counts the first record of each of its partitions in one statement (`begin_many`,
`infra.messaging.consumer_batch`), and counts the next batch's ahead in its own transaction
(`count_ahead`), so a batch that starts where the last one ended needs no statement and no commit of
its own to be counted.
One row per (consumer group, topic, partition): a partition is handled one record at a time, so the
row holds the offset in hand and its count, and the next offset starts again at 1. The table stays as
small as the number of partitions (`infra.messaging.tables.delivery_attempts_table`).
"""

from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from sqlalchemy import BigInteger, Integer, String, Table, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.messaging import batch_tx


class DeliveryAttempts(Protocol):
    async def begin(self, group: str, topic: str, partition: int, offset: int) -> int:
        """Count one more delivery of the record at `offset`; returns its deliveries so far (1-based)."""

    async def begin_many(self, group: str, records: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
        """`begin` for each (topic, partition, offset) of `records` (one per partition), at once: the
        deliveries so far of each, by (topic, partition)."""

    async def refund(self, group: str, topic: str, partition: int, offset: int) -> None:
        """Take back the delivery just counted: it neither failed nor ran (deferred, or a dependency was down)."""

    async def count_ahead(self, group: str, records: Sequence[tuple[str, int, int]]) -> bool:
        """Count one delivery of each (topic, partition, offset) of `records` as begun, in the current
        consumer batch's transaction: once the batch commits, the batch that starts at those offsets
        is counted already; if it rolls back, nothing is. True when counted; False (nothing done) when
        there is no batch to count in: counting outside it could outlive a batch that dies."""


class MemoryDeliveryAttempts:
    """The same counting in this process's memory: what a process that dies forgets."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, int], tuple[int, int]] = {}

    async def begin(self, group: str, topic: str, partition: int, offset: int) -> int:
        return self._count(group, topic, partition, offset)

    def _count(self, group: str, topic: str, partition: int, offset: int) -> int:
        at, attempts = self._rows.get((group, topic, partition), (offset, 0))
        attempts = attempts + 1 if at == offset else 1
        self._rows[(group, topic, partition)] = (offset, attempts)
        return attempts

    async def begin_many(self, group: str, records: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
        return {
            (topic, partition): await self.begin(group, topic, partition, offset)
            for topic, partition, offset in records
        }

    async def refund(self, group: str, topic: str, partition: int, offset: int) -> None:
        at, attempts = self._rows.get((group, topic, partition), (offset, 0))
        if at == offset and attempts > 0:
            self._rows[(group, topic, partition)] = (offset, attempts - 1)

    async def count_ahead(self, group: str, records: Sequence[tuple[str, int, int]]) -> bool:
        if batch_tx.current() is None:
            return False
        rows = list(records)

        def counted() -> None:
            for topic, partition, offset in rows:
                self._count(group, topic, partition, offset)

        batch_tx.when_committed(counted)
        return True


class PostgresDeliveryAttempts:
    def __init__(self, engine: AsyncEngine, table: Table) -> None:
        self._engine = engine
        self._table = table

    async def begin(self, group: str, topic: str, partition: int, offset: int) -> int:
        return (await self.begin_many(group, [(topic, partition, offset)]))[(topic, partition)]

    async def begin_many(self, group: str, records: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int], int]:
        async with self._engine.begin() as conn:
            rows = (await conn.execute(_counting(self._table), _counted(group, records))).all()
        return {(row.topic, row.kafka_partition): int(row.attempts) for row in rows}

    async def count_ahead(self, group: str, records: Sequence[tuple[str, int, int]]) -> bool:
        if batch_tx.current(self._engine) is None or not records:
            return False
        async with batch_tx.transaction(self._engine) as conn:
            await conn.execute(_counting(self._table), _counted(group, records))
        return True

    async def refund(self, group: str, topic: str, partition: int, offset: int) -> None:
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(
                    t.c.consumer_group == group,
                    t.c.topic == topic,
                    t.c.kafka_partition == partition,
                    t.c.record_offset == offset,
                    t.c.attempts > 0,
                )
                .values(attempts=t.c.attempts - 1)
            )


def _counted(group: str, records: Sequence[tuple[str, int, int]]) -> dict[str, Any]:
    """`_counting`'s values: the group, and the records as three arrays."""
    return {
        "group": group,
        "topics": [topic for topic, _, _ in records],
        "partitions": [partition for _, partition, _ in records],
        "offsets": [offset for _, _, offset in records],
    }


@cache
def _counting(t: Table) -> Any:
    """One upsert counting a delivery of each record: one more at the same offset, 1 at a new one.
    The records as three arrays unnested into rows: one statement for any number of them, built once
    per table (`_counted` binds its values)."""
    rows = (
        func.unnest(
            bindparam("topics", type_=ARRAY(String)),
            bindparam("partitions", type_=ARRAY(Integer)),
            bindparam("offsets", type_=ARRAY(BigInteger)),
        )
        .table_valued("topic", "kafka_partition", "record_offset")
        .render_derived("counted")
    )
    values = insert(t).from_select(
        ["consumer_group", "topic", "kafka_partition", "record_offset", "attempts"],
        select(bindparam("group", type_=String), rows.c.topic, rows.c.kafka_partition, rows.c.record_offset, 1),
    )
    return values.on_conflict_do_update(
        index_elements=[t.c.consumer_group, t.c.topic, t.c.kafka_partition],
        set_={
            "attempts": case((t.c.record_offset == values.excluded.record_offset, t.c.attempts + 1), else_=1),
            "record_offset": values.excluded.record_offset,
            "updated_at": func.now(),
        },
    ).returning(t.c.topic, t.c.kafka_partition, t.c.attempts)
