"""One database transaction for every record of a fetched batch (issue 18, "batch the hot path").

The consumer shell opens a `BatchTransaction` on its process's engine around the handlers of one
batch (`infra.messaging.consumer`). A handler's own transaction (`transaction`, which
`infra.tracing.transaction` and the orchestrator's unit of work go through) then joins it instead of
beginning one of its own, and whatever the handler would do after its commit (wake the relay, count a
finished saga) waits for the batch's commit (`when_committed`). The batch commits once; its offsets
are committed after that.

Nothing a handler sees changes: its statements run in the same order on one connection, and a later
record reads what an earlier one wrote. What changes is what fails together. A handler that raises,
or whose transaction block exits with an exception even if the handler then swallows it, spoils the
batch: it rolls back whole and the shell handles each record alone, as without batching, so one bad
record is still retried and parked by itself.

A handler that needs a transaction of another kind (the orchestrator's REPEATABLE READ snapshot)
raises `NotBatchableError` by joining: the batch rolls back and its records go one by one.
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction


class NotBatchableError(Exception):
    """A handler needs a transaction of its own: its batch is handled record by record."""


class BatchSpoiledError(Exception):
    """A handler's transaction block failed inside the batch, though the handler went on."""


class BatchTransaction:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._after: list[Callable[[], None]] = []
        self._deferred: dict[Hashable, tuple[list[Any], Callable[[AsyncConnection, list[Any]], Awaitable[None]]]] = {}
        self.spoiled: BaseException | None = None
        self.joins = 0

    async def connection(self) -> AsyncConnection:
        """The batch's connection, in its transaction (begun at the first join)."""
        if self._conn is None:
            self._conn = await self.engine.connect()
            self._tx = await self._conn.begin()
        self.joins += 1
        return self._conn

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the batch has committed (once, however often it is asked for)."""
        if callback not in self._after:
            self._after.append(callback)

    def deferred(self, key: Hashable, write: Callable[[AsyncConnection, list[Any]], Awaitable[None]]) -> list[Any]:
        """The batch's list for `key`: what handlers append to it is written by one `write(conn, items)`
        just before the commit, in the order appended (the outbox's rows in one statement a batch).
        Lists are written in the order their keys were first asked for."""
        if key not in self._deferred:
            self._deferred[key] = ([], write)
        return self._deferred[key][0]

    async def flush(self) -> None:
        """Write what waits in the deferred lists now (for a handler about to read those tables)."""
        assert self._conn is not None
        for items, write in self._deferred.values():
            if items:
                pending = list(items)
                items.clear()
                await write(self._conn, pending)

    def holds(self, conn: AsyncConnection) -> bool:
        """Whether `conn` is this batch's connection (a handler's statements on it join the batch)."""
        return conn is self._conn

    async def commit(self) -> None:
        if self.spoiled is not None:
            raise BatchSpoiledError(
                f"a handler's transaction failed inside the batch: {self.spoiled!r}"
            ) from self.spoiled
        if self._tx is not None:
            await self.flush()
            await self._tx.commit()
        await self.close()
        for callback in self._after:
            callback()

    async def close(self) -> None:
        """Roll back what is not committed and give the connection back."""
        conn, self._conn, self._tx = self._conn, None, None
        if conn is not None:
            await conn.close()


_current: ContextVar[BatchTransaction | None] = ContextVar("bakeplan_batch_transaction", default=None)


@asynccontextmanager
async def batch(engine: AsyncEngine) -> AsyncIterator[BatchTransaction]:
    """The handlers run inside share one transaction on `engine`, committed when the block ends without
    an exception (and without a spoiled join); rolled back otherwise."""
    tx = BatchTransaction(engine)
    token = _current.set(tx)
    try:
        yield tx
        await tx.commit()
    finally:
        _current.reset(token)
        await tx.close()


def current(engine: AsyncEngine | None = None) -> BatchTransaction | None:
    """The batch this task's handler runs in (on `engine`, when given), or None."""
    tx = _current.get()
    if tx is None or (engine is not None and tx.engine is not engine):
        return None
    return tx


def when_committed(callback: Callable[[], None]) -> None:
    """`callback` now, or when the current batch has committed."""
    tx = _current.get()
    if tx is None:
        callback()
    else:
        tx.after_commit(callback)


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` into `table` in the caller's transaction. Inside a batch on `conn` they wait, with
    every handler's rows for the table, for one statement just before the batch commits: for
    bookkeeping rows that nothing reads back within the batch (a timeline, an effect log), or whose
    readers call `written` first. Not inside a savepoint that may roll back: rows waiting for the batch
    would outlive it."""
    if not rows:
        return
    tx = _current.get()
    if tx is not None and tx.holds(conn):
        tx.deferred(("insert", table.fullname), functools.partial(_insert_all, table)).extend(rows)
        return
    await _insert_all(table, conn, list(rows))


async def written(conn: AsyncConnection) -> None:
    """Before reading a table that `insert_rows` defers to, inside a batch on `conn`: write what
    waits, so the read sees every earlier handler's rows."""
    tx = _current.get()
    if tx is not None and tx.holds(conn):
        await tx.flush()


async def _insert_all(table: Table, conn: AsyncConnection, rows: list[Any]) -> None:
    await conn.execute(_inserting(table), rows)


@functools.cache
def _inserting(table: Table) -> Any:
    """`table`'s insert, built once (its rows are bound at each call)."""
    return insert(table)


@asynccontextmanager
async def transaction(engine: AsyncEngine, *, repeatable_read: bool = False) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()`, or the current batch's transaction when there is one on `engine`.
    `repeatable_read` asks for a transaction of that isolation, which a batch cannot give."""
    tx = current(engine)
    if tx is None:
        async with engine.connect() as conn:
            if repeatable_read:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield conn
        return
    if repeatable_read:
        raise NotBatchableError("a REPEATABLE READ transaction cannot join a batch")
    conn = await tx.connection()
    try:
        yield conn
    except BaseException as exc:
        tx.spoiled = tx.spoiled or exc
        raise
