"""The orchestrator's handlers: triggers, step replies and deadlines.

Every handler runs in one Postgres transaction: claim the inbox, lock the saga row, decide with the
pure engine, write state + timeline + effect log + outbox rows, commit. Only then is the Kafka
offset committed.
"""

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Message
from contracts.errors import DeferredError, PermanentError, PlanningError
from contracts.ids import saga_id_for_trigger
from contracts.messages import (
    DemandForecasted,
    PlanningRequested,
    ProcurementPlanned,
    ProductionScheduled,
    SnapshotTaken,
    StepCompensated,
    StepFailed,
)
from contracts.planning import PlanningSnapshot
from contracts.topics import Topic
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.codec import decode, encode
from infra.messaging.outbox import Outgoing
from orchestrator import audit, masterdata, snapshot_reader
from orchestrator.engine import (
    CompensateStep,
    Decision,
    FinishSaga,
    RunStep,
    SagaDefinition,
    SagaEvent,
    SagaState,
    StartSaga,
    StepCompensationDone,
    StepFailedEvent,
    StepSucceeded,
    Tick,
    decide,
    new_saga,
)
from orchestrator.engine.serialization import state_from_dict, state_to_dict
from orchestrator.saga import StepResults, results_needed, to_messages
from orchestrator.tables import effect_log, inbox, outbox, saga_log, sagas, snapshots, step_results

log = logging.getLogger(__name__)

CONSUMER = "orchestrator"
Clock = Callable[[], datetime]


class Orchestrator:
    def __init__(
        self,
        engine: AsyncEngine,
        definition: SagaDefinition,
        clock: Clock,
        on_commit: Callable[[], None],
        on_finished: Callable[[str], None] = lambda status: None,
        *,
        crash_points: CrashPoints = DISARMED,
        dedupe: bool = True,
        low_stock_definition: SagaDefinition | None = None,
        max_running: int = 0,
        admission_retry_seconds: float = 0.5,
    ) -> None:
        """`on_commit` wakes the outbox relay; `on_finished(status)` counts sagas that ended.
        `dedupe=False` is the fault suite's mutation switch (redeliveries are handled again).
        `low_stock_definition` drives sagas of kind 'low_stock' (orchestrator/low_stock.py).
        `max_running` > 0 bounds the sagas in flight: a trigger that finds that many running or
        compensating is deferred (it waits in Kafka, retried every `admission_retry_seconds`), so a
        morning burst queues before its sagas start rather than inside them, where the waiting would
        count against the step deadlines and compensate plans that were merely queued."""
        self._max_running = max_running
        self._admission_retry_seconds = admission_retry_seconds
        self._definitions = {"daily": definition}
        if low_stock_definition is not None:
            self._definitions["low_stock"] = low_stock_definition
        self._on_finished = on_finished
        self._crash_points = crash_points
        self._dedupe = dedupe
        self._engine = engine
        self._definition = definition
        self._clock = clock
        self._on_commit = on_commit

    async def handle(self, message: Message) -> None:
        if isinstance(message, PlanningRequested):
            await self.start(message)
        elif isinstance(
            message, (DemandForecasted, ProductionScheduled, ProcurementPlanned, StepFailed, StepCompensated)
        ):
            await self.on_reply(message)
        else:
            raise PermanentError(f"the orchestrator does not handle {message.event_type} (tenant {message.tenant_id})")

    async def start(self, trigger: PlanningRequested) -> None:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                await self._admit(conn, trigger)
                now = self._clock()  # after admission: a saga starts after the one whose end admitted it
                if not await self._claim(conn, trigger.event_id):
                    return
                if not await masterdata.tenant_exists(conn, trigger.tenant_id):
                    raise PlanningError(
                        f"trigger {trigger.event_id}: unknown tenant {trigger.tenant_id!r}; "
                        "seed it (`bakeplan seed`) or fix the tenant id"
                    )
                existing = (
                    await conn.execute(
                        select(sagas.c.saga_id, sagas.c.status).where(
                            sagas.c.tenant_id == trigger.tenant_id,
                            sagas.c.business_date == trigger.business_date,
                            sagas.c.kind == "daily",
                            sagas.c.status.in_(("RUNNING", "COMPENSATING", "COMPLETED")),
                        )
                    )
                ).first()
                if existing is not None:
                    log.info(
                        "tenant %s already has plan %s (%s) for %s; trigger %s is a no-op",
                        trigger.tenant_id,
                        existing.saga_id,
                        existing.status,
                        trigger.business_date,
                        trigger.event_id,
                    )
                    await log_timeline(
                        conn, existing.saga_id, now, "duplicate_trigger", None, f"trigger {trigger.event_id}"
                    )
                    return
                saga_id = saga_id_for_trigger(trigger.event_id)
                snapshot = await snapshot_reader.read_snapshot(
                    conn, trigger.tenant_id, business_date=trigger.business_date, horizon_days=trigger.horizon_days
                )
                snapshot = await snapshot_reader.with_low_stock_lines(conn, snapshot)
                body = orjson.dumps(snapshot.model_dump())
                sha = hashlib.sha256(body).hexdigest()
                await conn.execute(
                    pg_insert(snapshots)
                    .values(sha256=sha, tenant_id=snapshot.tenant_id, size_bytes=len(body), body=body)
                    .on_conflict_do_nothing()
                )
                decision = decide(self._definition, new_saga(self._definition), StartSaga(now))
                await conn.execute(
                    insert(sagas).values(
                        saga_id=saga_id,
                        tenant_id=trigger.tenant_id,
                        business_date=trigger.business_date,
                        status=decision.state.status.value,
                        state=state_to_dict(decision.state),
                        reason="",
                        trigger_event_id=trigger.event_id,
                        snapshot_sha256=sha,
                        next_deadline=decision.state.next_deadline,
                        created_at=now,
                        updated_at=now,
                    )
                )
                started = f"by {trigger.requested_by} ({trigger.source}); snapshot {sha[:12]} ({len(body)} bytes)"
                snapshot_event = SnapshotTaken(
                    event_id=_derived_id(saga_id, "snapshot"),
                    tenant_id=trigger.tenant_id,
                    saga_id=saga_id,
                    causation_id=trigger.event_id,
                    correlation_id=saga_id,
                    occurred_at=now,
                    snapshot=snapshot,
                    content_sha256=sha,
                )
                outgoing = [Outgoing(Topic.SNAPSHOTS, snapshot_event)]
                outgoing += self._carry_out(
                    decision,
                    saga_id,
                    trigger.tenant_id,
                    trigger.business_date,
                    snapshot,
                    StepResults(),
                    trigger.event_id,
                    now,
                )
                await record_decision(conn, saga_id, decision, now, first=[("started", None, started)])
                await _effect(conn, "saga_started", trigger, saga_id, now)
                await outbox_store.add(conn, outbox, outgoing)
                inbound = audit.Inbound(trigger, Topic.TRIGGERS, saga_id)
                await audit.record(conn, inbound=inbound, outgoing=outgoing, at=now)
        self._crash_points.hit("orchestrator.before_publish")
        self._on_commit()

    async def on_reply(
        self, reply: DemandForecasted | ProductionScheduled | ProcurementPlanned | StepFailed | StepCompensated
    ) -> None:
        now = self._clock()
        event: SagaEvent
        if isinstance(reply, StepFailed):
            event = StepFailedEvent(reply.step, reply.reason, now)
        elif isinstance(reply, StepCompensated):
            event = StepCompensationDone(reply.step, now)
        else:
            event = StepSucceeded(reply.step, now)
        async with self._engine.begin() as conn:
            if not await self._claim(conn, reply.event_id):
                return
            if reply.saga_id is None:
                raise PermanentError(f"{reply.event_type} for tenant {reply.tenant_id} has no saga_id")
            applied = await self._apply(conn, reply.saga_id, event, reply, now)
        self._committed([applied])

    async def tick(self, *, limit: int = 100) -> int:
        """Apply `Tick` to sagas whose deadline passed. Returns how many were due."""
        now = self._clock()
        async with self._engine.begin() as conn:
            due = (
                (
                    await conn.execute(
                        select(sagas.c.saga_id)
                        .where(sagas.c.status.in_(("RUNNING", "COMPENSATING")), sagas.c.next_deadline <= now)
                        .order_by(sagas.c.next_deadline)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            # asyncpg returns its own UUID subclass, which the message encoder cannot serialize
            applied = [await self._apply(conn, UUID(bytes=saga_id.bytes), Tick(now), None, now) for saga_id in due]
        if due:
            self._committed(applied)
        return len(due)

    async def _admit(self, conn: AsyncConnection, trigger: PlanningRequested) -> None:
        """Raise `DeferredError` while `max_running` sagas are in flight (across replicas; a soft bound:
        two replicas admitting at the same instant may both start one)."""
        if not self._max_running:
            return
        running = (
            await conn.execute(
                select(func.count()).select_from(sagas).where(sagas.c.status.in_(("RUNNING", "COMPENSATING")))
            )
        ).scalar_one()
        if running >= self._max_running:
            raise DeferredError(
                f"{running} sagas in flight (BAKEPLAN_MAX_RUNNING_SAGAS={self._max_running}); "
                f"trigger {trigger.event_id} of tenant {trigger.tenant_id} waits",
                retry_after=self._admission_retry_seconds,
            )

    async def _claim(self, conn: AsyncConnection, event_id: UUID) -> bool:
        claimed = await inbox_store.claim(conn, inbox, consumer=CONSUMER, event_id=event_id)
        return claimed or not self._dedupe

    def _committed(self, applied: list[Decision | None]) -> None:
        decisions = [d for d in applied if d is not None]
        if any(isinstance(c, CompensateStep) for d in decisions for c in d.commands):
            self._crash_points.hit("orchestrator.compensating")
        self._crash_points.hit("orchestrator.before_publish")
        self._on_commit()
        for decision in decisions:
            for command in decision.commands:
                if isinstance(command, FinishSaga):
                    self._on_finished(command.status.value)

    async def _apply(
        self, conn: AsyncConnection, saga_id: UUID, event: SagaEvent, reply: Message | None, now: datetime
    ) -> Decision | None:
        """Apply one event to a saga; the decision made, or None when the engine ignored the event.
        `reply` (None for a deadline) is archived with what the decision emits, an ignored one too."""
        row = (await conn.execute(select(sagas).where(sagas.c.saga_id == saga_id).with_for_update())).first()
        if row is None:
            raise PermanentError(f"{type(event).__name__} for unknown saga {saga_id}")
        state: SagaState = state_from_dict(row.state)
        decision = decide(self._definitions[row.kind], state, event)
        step = getattr(event, "step", None)
        inbound = audit.Inbound(reply, Topic.STEP_REPLIES, saga_id) if reply is not None else None
        if decision.note:
            await log_timeline(conn, saga_id, now, "ignored", step, decision.note)
            await audit.record(conn, inbound=inbound, at=now)
            return None
        if isinstance(reply, (DemandForecasted, ProductionScheduled, ProcurementPlanned)):
            await conn.execute(
                pg_insert(step_results)
                .values(saga_id=saga_id, step=reply.step, event_id=reply.event_id, payload=encode(reply))
                .on_conflict_do_nothing()
            )
        kind = {
            StepSucceeded: "step_done",
            StepFailedEvent: "step_failed",
            StepCompensationDone: "step_compensated",
            Tick: "deadline_passed",
        }[type(event)]
        runs_step = any(isinstance(c, RunStep) for c in decision.commands)
        snapshot = await _load_snapshot(conn, row.snapshot_sha256) if runs_step else None
        needed = results_needed(decision.commands)
        results = StepResults()
        if isinstance(reply, (DemandForecasted, ProductionScheduled, ProcurementPlanned)) and reply.step in needed:
            results.record(reply)  # the reply in hand is the row just stored: not decoded again from it
            needed.discard(reply.step)
        await _load_results(conn, saga_id, needed, results)
        causation = reply.event_id if reply is not None else saga_id
        outgoing = self._carry_out(
            decision, saga_id, row.tenant_id, row.business_date, snapshot, results, causation, now
        )
        await record_decision(conn, saga_id, decision, now, first=[(kind, step, getattr(event, "reason", ""))])
        if reply is not None:
            await _effect(conn, "reply_applied", reply, saga_id, now)
        await outbox_store.add(conn, outbox, outgoing)
        await audit.record(conn, inbound=inbound, outgoing=outgoing, at=now)
        return decision

    def _carry_out(
        self,
        decision: Decision,
        saga_id: UUID,
        tenant_id: str,
        business_date: date,
        snapshot: PlanningSnapshot | None,
        results: StepResults,
        causation: UUID,
        now: datetime,
    ) -> list[Outgoing]:
        out: list[Outgoing] = []
        for command in decision.commands:
            attempt = decision.state.step(command.step).attempts if isinstance(command, RunStep) else 1
            out += to_messages(
                command,
                saga_id=saga_id,
                tenant_id=tenant_id,
                business_date=business_date,
                attempt=attempt,
                snapshot=snapshot,
                results=results,
                causation_id=causation,
                now=now,
            )
        return out


def _derived_id(saga_id: UUID, name: str) -> UUID:
    return uuid5(saga_id, name)


async def record_decision(
    conn: AsyncConnection,
    saga_id: UUID,
    decision: Decision,
    now: datetime,
    *,
    first: Sequence[tuple[str, str | None, str]] = (),
) -> None:
    """Store the engine's new state of a saga and log each command it issued (every saga kind), after
    the timeline lines `first` (kind, step, detail): one insert for all of them."""
    state = decision.state
    await conn.execute(
        update(sagas)
        .where(sagas.c.saga_id == saga_id)
        .values(
            status=state.status.value,
            state=state_to_dict(state),
            reason=state.reason,
            next_deadline=state.next_deadline,
            updated_at=now,
        )
    )
    lines = list(first)
    for command in decision.commands:
        detail = str(getattr(command, "status", "")) or f"attempt {getattr(command, 'attempt', 1)}"
        lines.append((type(command).__name__, getattr(command, "step", None), detail))
    if lines:
        rows = [{"saga_id": saga_id, "at": now, "kind": kind, "step": step, "detail": d} for kind, step, d in lines]
        await conn.execute(insert(saga_log), rows)


async def _effect(conn: AsyncConnection, kind: str, message: Message, saga_id: UUID, at: datetime) -> None:
    await conn.execute(
        insert(effect_log).values(
            consumer=CONSUMER,
            kind=kind,
            event_id=message.event_id,
            saga_id=saga_id,
            tenant_id=message.tenant_id,
            step=getattr(message, "step", None),
            at=at,
        )
    )


async def log_timeline(
    conn: AsyncConnection, saga_id: UUID, at: datetime, kind: str, step: str | None, detail: str
) -> None:
    """One line of a saga's timeline (`orchestrator.saga_log`)."""
    await conn.execute(insert(saga_log).values(saga_id=saga_id, at=at, kind=kind, step=step, detail=detail))


async def _load_snapshot(conn: AsyncConnection, sha: str) -> PlanningSnapshot:
    body = (await conn.execute(select(snapshots.c.body).where(snapshots.c.sha256 == sha))).scalar_one()
    return PlanningSnapshot.model_validate_json(body)


async def _load_results(conn: AsyncConnection, saga_id: UUID, steps: set[str], results: StepResults) -> None:
    """Add the stored replies of `steps` to `results` (each is large: only those needed)."""
    if not steps:
        return
    payloads: Sequence[Any] = (
        (
            await conn.execute(
                select(step_results.c.payload).where(step_results.c.saga_id == saga_id, step_results.c.step.in_(steps))
            )
        )
        .scalars()
        .all()
    )
    for payload in payloads:
        results.record(decode(payload))
