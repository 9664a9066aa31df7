"""The world the orchestrator's use-case tests run in: in-memory stores, a fake clock, the daily and
low-stock use cases on them, and builders of triggers and of the workers' replies."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TypeVar
from uuid import UUID, uuid4

from contracts import ids
from contracts.envelope import Message
from contracts.messages import (
    DemandForecasted,
    ForecastDemand,
    PlanningRequested,
    PlanProcurement,
    ProcurementPlanned,
    ProductionScheduled,
    ScheduleProduction,
)
from contracts.purchasing_messages import PurchaseOrdersReleased, ReleasePurchaseOrders
from contracts.step_inputs import StepEnvelope
from lab.synthetic import TenantData, generate_tenant
from orchestrator.low_stock import LowStock
from orchestrator.ports import SagaKind, SagaRecord, StepReply
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.memory import MemoryStores
from workers.forecasting.planner import forecast_for_command
from workers.procurement.replenishment import plan_for_command
from workers.production.scheduler import schedule_for_command
from workers.purchase_orders.release import release

TODAY = date(2026, 11, 28)
START = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
STEP_TIMEOUT = timedelta(seconds=60)
COMPENSATION_TIMEOUT = timedelta(seconds=30)
DEBOUNCE = timedelta(seconds=30)
BAKERY, OTHER_BAKERY = "uc-bakery", "uc-other-bakery"
M = TypeVar("M", bound=Message)


@cache
def a_tenant(tenant_id: str) -> TenantData:
    # "tiny" (one product, three ingredients): the real planners answer in milliseconds
    return generate_tenant(tenant_id, profile="tiny", seed=7, today=TODAY)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class World:
    """Two tenants in memory, the two use cases over them, and what their callbacks saw."""

    max_running: int = 0
    stores: MemoryStores = field(init=False)
    clock: FakeClock = field(default_factory=FakeClock)
    commits: int = 0
    finished: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        tenants = {t: a_tenant(t) for t in (BAKERY, OTHER_BAKERY)}
        self.stores = MemoryStores(
            {t: data.planning_snapshot(business_date=TODAY, horizon_days=14) for t, data in tenants.items()},
            time_zones={t: data.timezone for t, data in tenants.items()},
        )
        daily, low_stock = (
            definition(
                step_timeout=STEP_TIMEOUT, compensation_timeout=COMPENSATION_TIMEOUT, max_compensation_attempts=3
            )
            for definition in (daily_plan_definition, low_stock_definition)
        )
        self.orchestrator = Orchestrator(
            self.stores,
            {SagaKind.DAILY: daily, SagaKind.LOW_STOCK: low_stock},
            self.clock,
            self._committed,
            self.finished.append,
            max_running=self.max_running,
        )
        self.low_stock = LowStock(
            self.stores, low_stock, self.clock, self._committed, debounce=DEBOUNCE, horizon_days=14
        )

    def _committed(self) -> None:
        self.commits += 1

    def saga(self, saga_id: UUID) -> SagaRecord:
        saga = self.stores.saga(saga_id)
        assert saga is not None, f"no saga {saga_id}"
        return saga

    def sent(self, kind: type[M], saga_id: UUID | None = None) -> list[M]:
        """The messages of type `kind` in the outbox, in order (of one saga, if given)."""
        return [
            o.message
            for o in self.stores.outbox
            if isinstance(o.message, kind) and (saga_id is None or o.message.saga_id == saga_id)
        ]

    def seen(self) -> tuple[object, ...]:
        """Everything the stores hold that a test can read back, to compare before and after."""
        sagas = self.stores.sagas()
        timelines = [self.stores.timeline(s.saga_id) for s in sagas]
        return sagas, timelines, self.stores.outbox, self.stores.archive, self.stores.effects


def a_trigger(tenant_id: str = BAKERY, *, event_id: UUID | None = None) -> PlanningRequested:
    return PlanningRequested(
        event_id=event_id or ids.daily_trigger_id(tenant_id, TODAY),
        tenant_id=tenant_id,
        occurred_at=START,
        business_date=TODAY,
        source="schedule",
        requested_by="scheduler",
    )


def a_reply_envelope(command: Message, at: datetime) -> StepEnvelope:
    assert command.saga_id is not None
    return StepEnvelope(
        event_id=uuid4(),
        tenant_id=command.tenant_id,
        saga_id=command.saga_id,
        causation_id=command.event_id,
        correlation_id=command.saga_id,
        occurred_at=at,
    )


def reply_to(
    command: ForecastDemand | ScheduleProduction | PlanProcurement | ReleasePurchaseOrders, at: datetime
) -> StepReply:
    """What the step's worker answers: its pure planner's (or release rule's) result for `command`."""
    envelope = a_reply_envelope(command, at)
    if isinstance(command, ReleasePurchaseOrders):
        released = release(command)
        return PurchaseOrdersReleased(purchase_orders=released.orders, held_lines=released.held, **envelope)
    if isinstance(command, ForecastDemand):
        return DemandForecasted(forecast=forecast_for_command(command), **envelope)
    if isinstance(command, ScheduleProduction):
        plan = schedule_for_command(command)
        return ProductionScheduled(batches=plan.batches, requirements=plan.requirements, **envelope)
    return ProcurementPlanned(purchase_lines=plan_for_command(command), **envelope)


async def started(world: World, trigger: PlanningRequested | None = None) -> UUID:
    trigger = trigger or a_trigger()
    await world.orchestrator.handle(trigger)
    return ids.saga_id_for_trigger(trigger.event_id)
