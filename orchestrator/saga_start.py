"""Starting a saga, and recording a decision: the one way both happen, for every kind of saga.

A daily trigger (`orchestrator/service.py`) and a burst of low-stock signals (`orchestrator/low_stock.py`)
both start a saga with `start_saga`, in the unit of work that consumed their cause:
insert the saga → read its inputs → store the snapshot → `SnapshotTaken` and the first step command →
timeline, effect log, outbox, audit.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from contracts import ids
from contracts.messages import SnapshotTaken
from contracts.planning import PlanningSnapshot
from contracts.topics import Topic
from infra.messaging.outbox import Outgoing
from orchestrator.engine import Decision, RunStep, SagaDefinition, StartSaga, decide, new_saga
from orchestrator.low_stock_rules import LowStockInputs
from orchestrator.ports import Inbound, SagaKind, SagaRecord, TimelineLine, UnitOfWork
from orchestrator.saga import StepResults, to_messages


@dataclass(frozen=True)
class SagaInputs:
    """What a new saga plans from: the snapshot it records, and for a procurement-only saga the rest
    of its procurement command."""

    snapshot: PlanningSnapshot
    low_stock: LowStockInputs | None = None


@dataclass(frozen=True)
class NewSaga:
    kind: SagaKind
    tenant_id: str
    business_date: date
    trigger_id: UUID
    """The trigger's event id: a daily trigger's, or the one derived from a burst of signals."""
    cause: str
    """Who or what started it, for the timeline ("by operator (cli)", "by 3 low-stock signal(s) …")."""

    @property
    def saga_id(self) -> UUID:
        return ids.saga_id_for_trigger(self.trigger_id)


async def start_saga(
    uow: UnitOfWork,
    definition: SagaDefinition,
    new: NewSaga,
    read_inputs: Callable[[], Awaitable[SagaInputs]],
    *,
    now: datetime,
    inbound: Inbound | None = None,
) -> Decision | None:
    """Start `new` in `uow`; the decision made, or None when the store refused the saga (a live
    low-stock saga of the tenant exists). `read_inputs` runs only once the saga row is in, so a
    refused saga reads no master data. `inbound` is the consumed trigger, archived first."""
    saga_id = new.saga_id
    decision = decide(definition, new_saga(definition), StartSaga(now))
    record = SagaRecord(
        saga_id=saga_id,
        tenant_id=new.tenant_id,
        business_date=new.business_date,
        kind=new.kind,
        state=decision.state,
        trigger_event_id=new.trigger_id,
        snapshot_sha256="",
    )
    if not await uow.sagas.add(record, at=now):
        return None
    inputs = await read_inputs()
    stored = await uow.snapshots.add(inputs.snapshot)
    snapshot_taken = SnapshotTaken(
        event_id=ids.snapshot_event_id(saga_id),
        tenant_id=new.tenant_id,
        saga_id=saga_id,
        causation_id=new.trigger_id,
        correlation_id=saga_id,
        occurred_at=now,
        snapshot=inputs.snapshot,
        content_sha256=stored.sha256,
    )
    outgoing = [Outgoing(Topic.SNAPSHOTS, snapshot_taken)]
    results = StepResults(low_stock=inputs.low_stock)
    for command in decision.commands:
        assert isinstance(command, RunStep), "a saga's start runs its first step"
        outgoing += to_messages(
            command,
            saga_id=saga_id,
            tenant_id=new.tenant_id,
            business_date=new.business_date,
            attempt=1,
            snapshot=inputs.snapshot,
            results=results,
            causation_id=new.trigger_id,
            now=now,
        )
    started = TimelineLine("started", None, f"{new.cause}; snapshot {stored.sha256[:12]} ({stored.size_bytes} bytes)")
    await record_decision(uow, saga_id, decision, now, first=[started], snapshot_sha256=stored.sha256)
    await uow.sagas.log_effect(
        "saga_started", event_id=new.trigger_id, saga_id=saga_id, tenant_id=new.tenant_id, step=None, at=now
    )
    await uow.outbox.add(outgoing)
    await uow.audit.record(inbound=inbound, outgoing=outgoing, at=now)
    return decision


async def record_decision(
    uow: UnitOfWork,
    saga_id: UUID,
    decision: Decision,
    now: datetime,
    *,
    first: Sequence[TimelineLine] = (),
    snapshot_sha256: str | None = None,
) -> None:
    """Store the engine's new state of a saga (and at its start its snapshot) and log each command it
    issued, after the timeline lines `first`."""
    await uow.sagas.save_state(saga_id, decision.state, at=now, snapshot_sha256=snapshot_sha256)
    lines = list(first)
    for command in decision.commands:
        detail = str(getattr(command, "status", "")) or f"attempt {getattr(command, 'attempt', 1)}"
        lines.append(TimelineLine(type(command).__name__, getattr(command, "step", None), detail))
    await uow.sagas.log(saga_id, lines, at=now)
