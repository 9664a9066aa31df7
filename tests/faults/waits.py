"""Waiting for a fault test's sagas to finish and for the system to go quiet, by polling the
database and Kafka with a deadline (never a fixed sleep)."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from orchestrator import tables as orchestrator_tables
from orchestrator.tables import saga_log, sagas
from tests.faults import kafka_state
from tests.faults.kafka_state import GROUP_TOPICS, Marks
from tests.faults.load import SentTrigger
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.production import tables as production_tables

TERMINAL = ("COMPLETED", "COMPENSATED", "FAILED")
LastFault = float | Callable[[], float]
OUTBOXES: dict[str, Table] = {
    "orchestrator": orchestrator_tables.outbox,
    "forecasting": forecasting_tables.outbox,
    "production": production_tables.outbox,
    "procurement": procurement_tables.outbox,
}


@dataclass(frozen=True)
class Scope:
    """What one test owns: its tenants, and the topic offsets before it produced anything."""

    settings: Settings
    engine: AsyncEngine
    tenants: tuple[str, ...]
    marks: Marks


@dataclass(frozen=True)
class Terminal:
    """How the wait for terminal sagas ended."""

    sagas: int
    statuses: dict[str, int]
    after_last_fault_s: float | None
    """Seconds from the last fault until every saga was terminal (0 if they were before it);
    None when the bound passed first."""
    not_terminal: list[tuple[str, str]]
    unaccounted_triggers: int


async def saga_rows(scope: Scope) -> list[Any]:
    """Every saga of the test's tenants: id, tenant, business date, status, trigger id, reason."""
    async with scope.engine.connect() as conn:
        return list(
            await conn.execute(
                select(
                    sagas.c.saga_id,
                    sagas.c.tenant_id,
                    sagas.c.business_date,
                    sagas.c.status,
                    sagas.c.trigger_event_id,
                    sagas.c.reason,
                ).where(sagas.c.tenant_id.in_(scope.tenants))
            )
        )


async def saga_statuses(engine: AsyncEngine, tenants: Sequence[str]) -> Counter[str]:
    """How many sagas of `tenants` are in each status now."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(sagas.c.status, func.count()).where(sagas.c.tenant_id.in_(tenants)).group_by(sagas.c.status)
        )
        return Counter({status: int(n) for status, n in rows})


async def while_running(engine: AsyncEngine, tenants: Sequence[str], *, timeout_s: float = 30.0) -> Counter[str]:
    """The statuses at the first moment (polled every 10 ms) a saga of `tenants` is RUNNING: a fault
    injected right after lands on sagas in flight, however fast a saga is (a small one takes ~0.1 s)."""
    deadline = time.monotonic() + timeout_s
    while (statuses := await saga_statuses(engine, tenants))["RUNNING"] == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no saga of the test's tenants was running within {timeout_s} s: {dict(statuses)}")
        await asyncio.sleep(0.01)
    return statuses


async def open_sagas(engine: AsyncEngine, tenants: Sequence[str]) -> int:
    """How many sagas of `tenants` are not terminal yet."""
    statuses = await saga_statuses(engine, tenants)
    return sum(n for status, n in statuses.items() if status not in TERMINAL)


async def repeated_triggers(scope: Scope, saga_ids: Iterable[UUID]) -> set[str]:
    """Trigger ids the orchestrator logged as a repeat of an existing plan (`duplicate_trigger`)."""
    ids = list(saga_ids)
    if not ids:
        return set()
    async with scope.engine.connect() as conn:
        details = await conn.execute(
            select(saga_log.c.detail).where(saga_log.c.saga_id.in_(ids), saga_log.c.kind == "duplicate_trigger")
        )
        return {d.removeprefix("trigger ").strip() for d in details.scalars()}


async def wait_terminal(scope: Scope, triggers: Sequence[SentTrigger], *, bound_s: float, since: LastFault) -> Terminal:
    """Poll until every trigger is accounted for (it has a saga, or the orchestrator logged it as a
    repeat) and every saga of the tenants is terminal, for at most `bound_s` seconds after the last
    fault (`since`: its time.monotonic(), or a callable giving it while faults may still happen)."""
    wanted = {str(t.event_id) for t in triggers}
    started = time.monotonic()

    # a callable gives 0.0 until the harness has seen a fault: a process that has written its crash line
    # may not have exited yet, so the bound counts from this wait's start until then
    def last_fault() -> float:
        return (since() or started) if callable(since) else since

    while True:
        rows = await saga_rows(scope)
        unaccounted = wanted - {str(r.trigger_event_id) for r in rows}
        if unaccounted:
            unaccounted -= await repeated_triggers(scope, (r.saga_id for r in rows))
        still_open = [(str(r.saga_id), r.status) for r in rows if r.status not in TERMINAL]
        done = not unaccounted and not still_open
        if done or time.monotonic() > last_fault() + bound_s:
            return Terminal(
                sagas=len(rows),
                statuses=dict(Counter(r.status for r in rows)),
                after_last_fault_s=round(max(0.0, time.monotonic() - last_fault()), 1) if done else None,
                not_terminal=still_open,
                unaccounted_triggers=len(unaccounted),
            )
        await asyncio.sleep(0.25)


async def settle(scope: Scope, triggers: Sequence[SentTrigger], *, timeout_s: float) -> None:
    """Wait until every trigger's saga is terminal and the system is quiet (used before a fault that
    must hit messages already handled); raises `AssertionError` past `timeout_s`."""
    terminal = await wait_terminal(scope, triggers, bound_s=timeout_s, since=time.monotonic())
    if terminal.after_last_fault_s is None:
        raise AssertionError(f"not settled after {timeout_s} s: {terminal}")
    await wait_quiet(scope, timeout_s=timeout_s)


async def wait_quiet(scope: Scope, *, timeout_s: float = 60.0) -> float:
    """Wait until the system has nothing left to do for the test: no unpublished outbox row of its
    tenants and no consumer group behind the end of its topics (e.g. drafts activated after
    `PlanReady`). Returns how long that took; raises `AssertionError` past `timeout_s`."""
    start = time.monotonic()
    while True:
        pending = await _unpublished(scope)
        ends = await kafka_state.end_offsets(scope.settings, {t for ts in GROUP_TOPICS.values() for t in ts})
        behind = {}
        for group, topics in GROUP_TOPICS.items():
            topic_ends = {tp: o for tp, o in ends.items() if tp.topic in {str(t) for t in topics}}
            n = kafka_state.lag(await kafka_state.committed(scope.settings, group), topic_ends)
            if n:
                behind[group] = n
        if not pending and not behind:
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(
                f"not quiet after {timeout_s} s: unpublished outbox rows {pending}, consumer lag {behind}"
            )
        await asyncio.sleep(0.5)


async def _unpublished(scope: Scope) -> dict[str, int]:
    counts = {}
    async with scope.engine.connect() as conn:
        for name, outbox in OUTBOXES.items():
            n = (
                await conn.execute(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.message_key.in_(scope.tenants), outbox.c.published_at.is_(None))
                )
            ).scalar_one()
            if n:
                counts[name] = int(n)
    return counts
