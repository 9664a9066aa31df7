"""The orchestrator's use cases: a daily trigger, a step reply, passed deadlines.

Each runs in one unit of work (`orchestrator/ports.py`; one Postgres transaction in production):
claim the inbox, lock the saga, decide with the pure engine, write state + timeline + effect log +
outbox + audit, commit. Only then is the Kafka offset committed.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from uuid import UUID

from contracts.binding import content_digest
from contracts.envelope import Message
from contracts.errors import DeferredError, PermanentError, PlanningError, TenantBindingError, TransientError
from contracts.messages import (
    DemandForecasted,
    PlanningRequested,
    ProcurementPlanned,
    ProductionScheduled,
    StepCompensated,
    StepFailed,
)
from contracts.purchasing_messages import PurchaseOrdersReleased
from contracts.topics import Topic
from infra.crash_points import DISARMED, CrashPoints
from infra.messaging import batch_tx
from infra.messaging.consumer import is_transient
from infra.messaging.outbox import Outgoing
from orchestrator.binding import DEFAULT_TRIGGER_WINDOW, TriggerWindow, check_reply, check_trigger_id
from orchestrator.engine import (
    CompensateStep,
    FinishSaga,
    RunStep,
    SagaDefinition,
    SagaEvent,
    StepCompensationDone,
    StepFailedEvent,
    StepSucceeded,
    Tick,
    decide,
    hold_deadlines,
)
from orchestrator.observing import NO_OBSERVER, Applied, SagaObserver, observe
from orchestrator.ports import Inbound, SagaKind, StepReply, TimelineLine, UnitOfWork, UnitOfWorkFactory
from orchestrator.quarantine import UNKNOWN_TENANT, MemoryQuarantine, Quarantine, Scan
from orchestrator.saga import PIVOT, StepResults, counts_needed, results_needed, to_messages
from orchestrator.saga_start import NewSaga, SagaInputs, record_decision, start_saga

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Reply = StepReply | StepFailed | StepCompensated
EVENT_KINDS: dict[type[SagaEvent], str] = {
    StepSucceeded: "step_done",
    StepFailedEvent: "step_failed",
    StepCompensationDone: "step_compensated",
    Tick: "deadline_passed",
}


class Orchestrator:
    def __init__(
        self,
        stores: UnitOfWorkFactory,
        definitions: dict[SagaKind, SagaDefinition],
        clock: Clock,
        on_commit: Callable[[], None],
        on_finished: Callable[[str], None] = lambda status: None,
        *,
        crash_points: CrashPoints = DISARMED,
        max_running: int = 0,
        admission_retry_seconds: float = 0.5,
        quarantine: Quarantine | None = None,
        broker_reachable: Callable[[], Awaitable[bool]] | None = None,
        trigger_window: TriggerWindow = DEFAULT_TRIGGER_WINDOW,
        observer: SagaObserver = NO_OBSERVER,
    ) -> None:
        """`definitions`: the saga of each kind (a daily one at least). `on_commit` wakes the outbox
        relay; `on_finished(status)` counts sagas that ended.
        `max_running` > 0 bounds the sagas in flight: a trigger that finds that many running or
        compensating is deferred (it waits in Kafka, retried every `admission_retry_seconds`), so a
        morning burst queues before its sagas start rather than inside them, where the waiting would
        count against the step deadlines and compensate plans that were merely queued.
        `trigger_window`: the business dates a trigger may name around the tenant's local today; others
        are parked (docs/security.md, "Tenant binding"). `observer` hears what committed decisions did
        (the metrics, orchestrator/observing.py)."""
        self._stores = stores
        self._definitions = definitions
        self._clock = clock
        self._on_commit = on_commit
        self._on_finished = on_finished
        self._crash_points = crash_points
        self._max_running = max_running
        self._admission_retry_seconds = admission_retry_seconds
        self._quarantine = quarantine or MemoryQuarantine()
        self._broker_reachable = broker_reachable
        self._unreachable_since: datetime | None = None
        self._trigger_window = trigger_window
        self._observer = observer

    async def handle(self, message: Message) -> None:
        if isinstance(message, PlanningRequested):
            await self.start(message)
        elif isinstance(
            message,
            (
                DemandForecasted,
                ProductionScheduled,
                ProcurementPlanned,
                PurchaseOrdersReleased,
                StepFailed,
                StepCompensated,
            ),
        ):
            await self.on_reply(message)
        else:
            raise PermanentError(f"the orchestrator does not handle {message.event_type} (tenant {message.tenant_id})")

    async def start(self, trigger: PlanningRequested) -> None:
        async with self._stores(consistent_reads=True) as uow:
            # first, before the snapshot is taken: the archive append at the end cannot then fail to
            # serialise against the tenant's low-stock signals archived meanwhile (orchestrator/audit.py)
            await uow.audit.lock_chain(trigger.tenant_id)
            await self._admit(uow, trigger)
            now = self._clock()  # after admission: a saga starts after the one whose end admitted it
            check_trigger_id(trigger.event_id, trigger.tenant_id, trigger.business_date)
            if not await uow.inbox.claim(trigger.event_id, tenant_id=trigger.tenant_id, digest=content_digest(trigger)):
                return
            if not await uow.masterdata.tenant_exists(trigger.tenant_id):
                raise PlanningError(
                    f"trigger {trigger.event_id}: unknown tenant {trigger.tenant_id!r}; "
                    "seed it (`bakeplan seed`) or fix the tenant id"
                )
            stale = self._trigger_window.problem(
                trigger.business_date, now=now, time_zone=await uow.masterdata.time_zone(trigger.tenant_id)
            )
            if stale is not None:
                raise PermanentError(f"trigger {trigger.event_id} of tenant {trigger.tenant_id}: {stale}")
            existing = await uow.sagas.day_plan(trigger.tenant_id, trigger.business_date)
            if existing is not None:
                saga_id, status = existing
                log.info(
                    "tenant %s already has plan %s (%s) for %s; trigger %s is a no-op",
                    trigger.tenant_id,
                    saga_id,
                    status,
                    trigger.business_date,
                    trigger.event_id,
                )
                duplicate = TimelineLine("duplicate_trigger", None, f"trigger {trigger.event_id}")
                await uow.sagas.log(saga_id, [duplicate], at=now)
                return

            async def read_inputs() -> SagaInputs:
                # open purchase orders (released by earlier sagas, daily or low-stock, and not yet
                # received) are in the snapshot as supply: no need is ordered twice (docs/orders.md)
                snapshot = await uow.masterdata.snapshot(
                    trigger.tenant_id, business_date=trigger.business_date, horizon_days=trigger.horizon_days
                )
                return SagaInputs(snapshot)

            new = NewSaga(
                SagaKind.DAILY,
                trigger.tenant_id,
                trigger.business_date,
                trigger.event_id,
                f"by {trigger.requested_by} ({trigger.source})",
            )
            inbound = Inbound(trigger, Topic.TRIGGERS, new.saga_id)
            started = await start_saga(
                uow, self._definitions[SagaKind.DAILY], new, read_inputs, now=now, inbound=inbound
            )
            if started is None:
                # another replica started the day's plan from another trigger since `day_plan` read:
                # the retry (this unit of work rolls back) sees it and is a no-op
                raise TransientError(
                    f"trigger {trigger.event_id}: tenant {trigger.tenant_id} got a plan for "
                    f"{trigger.business_date} from another trigger at the same moment; retrying"
                )
        self._crash_points.hit("orchestrator.before_publish")
        self._on_commit()

    async def on_reply(self, reply: Reply) -> None:
        now = self._clock()
        event: SagaEvent
        if isinstance(reply, StepFailed):
            event = StepFailedEvent(reply.step, reply.reason, now)
        elif isinstance(reply, StepCompensated):
            event = StepCompensationDone(reply.step, now)
        else:
            event = StepSucceeded(reply.step, now)
        async with self._stores() as uow:
            if not await uow.inbox.claim(reply.event_id, tenant_id=reply.tenant_id, digest=content_digest(reply)):
                return
            if reply.saga_id is None:
                raise PermanentError(f"{reply.event_type} for tenant {reply.tenant_id} has no saga_id")
            applied = await self._apply(uow, reply.saga_id, event, reply, now)
        batch_tx.when_committed(functools.partial(self._committed, [applied]))

    async def tick(self, *, limit: int = 100) -> int:
        """Apply `Tick` to sagas whose deadline passed, each saga in a unit of work of its own: one
        that raises is counted in the quarantine (and skipped once quarantined), the others go on.
        Returns how many were due and not quarantined. An unavailable database stops the scan."""
        if not await self._broker_up():
            return 0
        now = self._clock()
        failing = await self._quarantine.failing(Scan.DEADLINES)
        held = {item for item, f in failing.items() if f.quarantined}
        async with self._stores() as uow:
            due = [s for s in await uow.sagas.due(now, limit=limit + len(held)) if str(s) not in held][:limit]
        applied: list[Applied | None] = []
        for saga_id in due:
            try:
                async with self._stores() as uow:
                    applied.append(await self._apply(uow, saga_id, Tick(now), None, now))
            except Exception as exc:
                if is_transient(exc):
                    raise
                tenant = await self._tenant_of(saga_id)
                await self._quarantine.failed(Scan.DEADLINES, str(saga_id), tenant_id=tenant, error=exc, at=now)
                continue
            if str(saga_id) in failing:
                await self._quarantine.cleared(Scan.DEADLINES, str(saga_id))
        if applied:
            self._committed(applied)
        return len(due)

    async def _broker_up(self) -> bool:
        """Deadlines are held while the broker is unreachable (`broker_reachable` says so): no step
        could have answered meanwhile. When it is back, every live saga's deadlines move later by the
        time it was away (docs/resilience.md). Without `broker_reachable`, deadlines always run."""
        if self._broker_reachable is None:
            return True
        reachable = await self._broker_reachable()
        now = self._clock()
        if not reachable:
            if self._unreachable_since is None:
                self._unreachable_since = now
                log.warning("Kafka is unreachable: saga deadlines are held until it is back")
            return False
        if self._unreachable_since is not None:
            held = now - self._unreachable_since
            await self._hold_deadlines(held, now)
            self._unreachable_since = None
        return True

    async def _hold_deadlines(self, by: timedelta, now: datetime) -> None:
        async with self._stores() as uow:
            live = await uow.sagas.due(now + timedelta(days=36500), limit=1_000_000)
        for saga_id in live:
            async with self._stores() as uow:
                saga = await uow.sagas.lock(saga_id)
                if saga is None or saga.state.status.terminal:
                    continue
                await uow.sagas.save_state(saga_id, hold_deadlines(saga.state, by), at=now)
                line = TimelineLine("deadlines_held", None, f"Kafka was unreachable for {by.total_seconds():.0f} s")
                await uow.sagas.log(saga_id, [line], at=now)
        log.warning(
            "Kafka is back after %.0f s: the deadlines of %d live saga(s) moved as much later",
            by.total_seconds(),
            len(live),
        )

    async def _tenant_of(self, saga_id: UUID) -> str:
        try:
            async with self._stores() as uow:
                return await uow.sagas.tenant_of(saga_id) or UNKNOWN_TENANT
        except Exception:
            log.exception("saga %s: its tenant cannot be read either", saga_id)
            return UNKNOWN_TENANT

    async def _admit(self, uow: UnitOfWork, trigger: PlanningRequested) -> None:
        """Raise `DeferredError` while `max_running` sagas are in flight (across replicas; a soft bound:
        two replicas admitting at the same instant may both start one)."""
        if not self._max_running:
            return
        running = await uow.sagas.count_live()
        if running >= self._max_running:
            self._observer.deferred()
            raise DeferredError(
                f"{running} sagas in flight (BAKEPLAN_MAX_RUNNING_SAGAS={self._max_running}); "
                f"trigger {trigger.event_id} of tenant {trigger.tenant_id} waits",
                retry_after=self._admission_retry_seconds,
            )

    def _committed(self, applied: list[Applied | None]) -> None:
        decisions = [a.decision for a in applied if a is not None]
        if any(isinstance(c, CompensateStep) for d in decisions for c in d.commands):
            self._crash_points.hit("orchestrator.compensating")
        self._crash_points.hit("orchestrator.before_publish")
        self._on_commit()
        for decision in decisions:
            for command in decision.commands:
                if isinstance(command, FinishSaga):
                    self._on_finished(command.status.value)
        for a in applied:
            if a is not None:
                observe(self._observer, a)

    async def _apply(
        self, uow: UnitOfWork, saga_id: UUID, event: SagaEvent, reply: Reply | None, now: datetime
    ) -> Applied | None:
        """Apply one event to a saga; the decision made, or None when the engine ignored the event.
        `reply` (None for a deadline) is archived with what the decision emits, an ignored one too."""
        saga = await uow.sagas.lock(saga_id)
        if saga is None:
            if reply is not None:
                raise TenantBindingError(
                    f"{reply.event_type} {reply.event_id} of tenant {reply.tenant_id!r} names saga {saga_id}, "
                    "which does not exist; refused",
                    kind="unknown_saga",
                )
            raise PermanentError(f"{type(event).__name__} for unknown saga {saga_id}")
        definition = self._definitions[saga.kind]
        inbound = Inbound(reply, Topic.STEP_REPLIES, saga_id) if reply is not None else None
        step = getattr(event, "step", None)
        if reply is not None:
            assert step is not None
            check_reply(
                reply, step=step, saga_id=saga_id, saga_tenant=saga.tenant_id, state=saga.state, definition=definition
            )
        decision = decide(definition, saga.state, event)
        if decision.note:
            await uow.sagas.log(saga_id, [TimelineLine("ignored", step, decision.note)], at=now)
            await uow.audit.record(inbound=inbound, at=now)
            return None
        kept = (DemandForecasted, ProductionScheduled, ProcurementPlanned, PurchaseOrdersReleased)
        step_reply = reply if isinstance(reply, kept) else None
        if step_reply is not None and inbound is not None:
            await uow.sagas.add_result(saga_id, step_reply, payload=inbound.payload)
        runs_step = any(isinstance(c, RunStep) for c in decision.commands)
        snapshot = await uow.snapshots.get(saga.snapshot_sha256) if runs_step else None
        needed = results_needed(decision.commands)
        releases = any(isinstance(c, RunStep) and c.step == PIVOT for c in decision.commands)
        results = StepResults(tenant=await uow.masterdata.tenant_profile(saga.tenant_id) if releases else None)
        counted = counts_needed(decision.commands)
        if step_reply is not None and (step_reply.step in needed or step_reply.step in counted):
            results.record(step_reply)  # the reply in hand is the row just stored: not decoded again from it
            needed.discard(step_reply.step)
            counted.pop(step_reply.step, None)
        for stored in await uow.sagas.results(saga_id, needed):
            results.record(stored)
        results.lengths = await uow.sagas.result_lengths(saga_id, counted)
        causation = reply.event_id if reply is not None else saga_id
        outgoing: list[Outgoing] = []
        for command in decision.commands:
            outgoing += to_messages(
                command,
                saga_id=saga_id,
                tenant_id=saga.tenant_id,
                business_date=saga.business_date,
                attempt=decision.state.step(command.step).attempts if isinstance(command, RunStep) else 1,
                snapshot=snapshot,
                results=results,
                causation_id=causation,
                now=now,
            )
        detail = getattr(event, "reason", "")
        await record_decision(uow, saga_id, decision, now, first=[TimelineLine(EVENT_KINDS[type(event)], step, detail)])
        if reply is not None:
            await uow.sagas.log_effect(
                "reply_applied",
                event_id=reply.event_id,
                saga_id=saga_id,
                tenant_id=reply.tenant_id,
                step=reply.step,
                at=now,
            )
        await uow.outbox.add(outgoing)
        await uow.audit.record(inbound=inbound, outgoing=outgoing, at=now)
        return Applied(saga.kind, saga.state, decision, now)
