"""Builders of the records, messages and units of work the store contract tests use."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from contracts.messages import (
    DemandForecasted,
    LowStockObserved,
    PlanningRequested,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
)
from contracts.planning import ForecastLine, IngredientRequirement
from contracts.step_inputs import StepEnvelope
from contracts.topics import Topic
from infra.messaging.outbox import Outgoing
from orchestrator.engine import SagaState, SagaStatus, StepState, StepStatus
from orchestrator.low_stock_rules import Signal
from orchestrator.ports import (
    LIVE_STATUSES,
    SagaKind,
    SagaRecord,
    StepReply,
    UnitOfWork,
    UnitOfWorkFactory,
)
from tests.contract.conftest import TODAY

T0 = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
LONG_AGO = datetime(1990, 1, 1, tzinfo=UTC)
"""Deadlines in `due` tests: no saga of another test or run in the shared database has one this old."""


class RolledBackError(Exception):
    """Raised at the end of a `rolled_back` unit of work."""


@asynccontextmanager
async def rolled_back(stores: UnitOfWorkFactory, *, consistent_reads: bool = False) -> AsyncIterator[UnitOfWork]:
    """A unit of work that raises when its block ends, so it rolls back: what it wrote is read back
    inside it, and gone after it."""
    with suppress(RolledBackError):
        async with stores(consistent_reads=consistent_reads) as uow:
            yield uow
            raise RolledBackError


def a_state(status: SagaStatus, *, deadline: datetime | None = None) -> SagaState:
    step_status = StepStatus.RUNNING if status in LIVE_STATUSES else StepStatus.DONE
    step = StepState("procurement", step_status, started_at=T0, deadline=deadline, attempts=1)
    return SagaState(status, (step,), reason="" if status is SagaStatus.RUNNING else f"now {status}")


def a_saga(
    tenant_id: str,
    *,
    kind: SagaKind = SagaKind.DAILY,
    on: date = TODAY,
    status: SagaStatus = SagaStatus.RUNNING,
    deadline: datetime | None = None,
) -> SagaRecord:
    return SagaRecord(
        saga_id=uuid4(),
        tenant_id=tenant_id,
        business_date=on,
        kind=kind,
        state=a_state(status, deadline=deadline),
        trigger_event_id=uuid4(),
        snapshot_sha256="",
    )


def an_envelope(saga: SagaRecord) -> StepEnvelope:
    return StepEnvelope(
        event_id=uuid4(),
        tenant_id=saga.tenant_id,
        saga_id=saga.saga_id,
        causation_id=saga.saga_id,
        correlation_id=saga.saga_id,
        occurred_at=T0,
    )


def forecasted(saga: SagaRecord, units: float = 10.0) -> DemandForecasted:
    line = ForecastLine(product_id="P0001", day=saga.business_date, units=units)
    return DemandForecasted(forecast=(line,), **an_envelope(saga))


def scheduled(saga: SagaRecord) -> ProductionScheduled:
    need = IngredientRequirement(ingredient_id="I0001", day=saga.business_date, quantity=2.5)
    return ProductionScheduled(batches=(), requirements=(need,), **an_envelope(saga))


def procured(saga: SagaRecord) -> ProcurementPlanned:
    return ProcurementPlanned(purchase_lines=(), **an_envelope(saga))


def a_trigger(tenant_id: str) -> PlanningRequested:
    return PlanningRequested(
        event_id=uuid4(), tenant_id=tenant_id, occurred_at=T0, business_date=TODAY, source="operator"
    )


def plan_ready(tenant_id: str, saga_id: UUID) -> Outgoing:
    message = PlanReady(
        event_id=uuid4(),
        tenant_id=tenant_id,
        saga_id=saga_id,
        occurred_at=T0,
        business_date=TODAY,
        batches=1,
        purchase_lines=0,
    )
    return Outgoing(Topic.PLANS, message)


def a_signal(tenant_id: str, ingredient_id: str = "I0001", *, on_hand: float = 3.0) -> LowStockObserved:
    return LowStockObserved(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=T0,
        ingredient_id=ingredient_id,
        quantity_on_hand=on_hand,
        threshold=20.0,
        observed_at=T0,
    )


def kept(signal: LowStockObserved, received_at: datetime) -> Signal:
    return Signal(
        signal.event_id,
        signal.ingredient_id,
        signal.quantity_on_hand,
        signal.threshold,
        signal.observed_at,
        received_at,
    )


def by_step(replies: list[StepReply]) -> list[StepReply]:
    return sorted(replies, key=lambda reply: reply.step)  # `results` promises no order
