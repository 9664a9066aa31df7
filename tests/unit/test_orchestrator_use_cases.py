"""The orchestrator's use cases (`Orchestrator`, `LowStock`) on the in-memory stores and a fake clock:
daily sagas from trigger to plan, compensation, deadlines, admission and low-stock procurement.

The fake is held to the Postgres adapter by `tests/contract/`; the workers' replies are made by the
workers' own pure planners from the commands the saga sent.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TypeVar
from uuid import UUID, uuid4

import pytest

from contracts import ids
from contracts.envelope import Message
from contracts.errors import DeferredError, PermanentError, PlanningError
from contracts.messages import (
    CancelProductionBatches,
    DemandForecasted,
    DiscardForecast,
    ForecastDemand,
    LowStockObserved,
    PlanCompensated,
    PlanningRequested,
    PlanProcurement,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
    ScheduleProduction,
    SnapshotTaken,
    StepCompensated,
    StepFailed,
)
from contracts.step_inputs import StepEnvelope
from contracts.topics import Topic
from lab.synthetic import TenantData, generate_tenant
from orchestrator.engine import SagaStatus, StepStatus
from orchestrator.low_stock import LowStock
from orchestrator.ports import SagaKind, SagaRecord, StepReply, TimelineLine
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.memory import MemoryStores
from workers.forecasting.planner import forecast_for_command
from workers.procurement.replenishment import plan_for_command
from workers.production.scheduler import schedule_for_command

pytestmark = pytest.mark.unit

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


@pytest.fixture
def world() -> World:
    return World()


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


def reply_to(command: ForecastDemand | ScheduleProduction | PlanProcurement, at: datetime) -> StepReply:
    """What the step's worker answers: its pure planner's result for `command`."""
    envelope = a_reply_envelope(command, at)
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


# --- a daily trigger -------------------------------------------------------------------------------


async def test_a_trigger_starts_a_daily_saga_that_asks_for_a_forecast(world: World) -> None:
    trigger = a_trigger()
    saga_id = await started(world, trigger)

    saga = world.saga(saga_id)
    assert (saga.kind, saga.tenant_id, saga.business_date) == (SagaKind.DAILY, BAKERY, TODAY)
    assert saga.state.status is SagaStatus.RUNNING
    assert saga.state.step("forecasting").status is StepStatus.RUNNING
    assert [(o.topic, type(o.message)) for o in world.stores.outbox] == [
        (Topic.SNAPSHOTS, SnapshotTaken),
        (Topic.FORECASTING_COMMANDS, ForecastDemand),
    ]
    (taken,), (command,) = world.sent(SnapshotTaken), world.sent(ForecastDemand)
    assert taken.event_id == ids.snapshot_event_id(saga_id)
    assert command.event_id == ids.step_command_id(saga_id, "forecasting", 1)
    assert {(m.saga_id, m.causation_id) for m in (taken, command)} == {(saga_id, trigger.event_id)}
    assert (taken.snapshot.tenant_id, taken.snapshot.business_date) == (BAKERY, TODAY)
    assert taken.content_sha256 == saga.snapshot_sha256
    assert (command.business_date, command.horizon_days) == (TODAY, trigger.horizon_days)
    assert [(a.direction, a.message.event_id, a.saga_id) for a in world.stores.archive] == [
        ("in", trigger.event_id, saga_id),
        ("out", taken.event_id, saga_id),
        ("out", command.event_id, saga_id),
    ]
    timeline = world.stores.timeline(saga_id)
    assert [(line.kind, line.step) for line in timeline] == [("started", None), ("RunStep", "forecasting")]
    assert "by scheduler (schedule)" in timeline[0].detail
    assert [(e.kind, e.event_id) for e in world.stores.effects] == [("saga_started", trigger.event_id)]
    assert world.commits == 1


async def test_a_redelivered_trigger_changes_nothing(world: World) -> None:
    trigger = a_trigger()
    await started(world, trigger)
    before = world.seen()

    await world.orchestrator.handle(trigger)

    assert world.seen() == before


async def test_a_second_trigger_for_the_day_is_a_no_op_on_the_days_timeline(world: World) -> None:
    saga_id = await started(world)
    saga, outbox = world.saga(saga_id), world.stores.outbox
    second = a_trigger(event_id=uuid4())  # e.g. an operator's, after the scheduler's

    await world.orchestrator.handle(second)

    assert world.stores.sagas() == [saga]
    assert world.stores.outbox == outbox
    assert world.stores.timeline(saga_id)[-1] == TimelineLine("duplicate_trigger", None, f"trigger {second.event_id}")


async def test_a_trigger_for_an_unknown_tenant_raises_and_leaves_nothing(world: World) -> None:
    trigger = a_trigger("nobody-here")

    with pytest.raises(PlanningError, match=r"unknown tenant 'nobody-here'.*bakeplan seed"):
        await world.orchestrator.handle(trigger)

    assert world.seen() == ([], [], [], [], [])
    # the inbox claim was rolled back too: a redelivery is handled (and refused) again, not dropped
    with pytest.raises(PlanningError):
        await world.orchestrator.handle(trigger)


# --- replies, failures, deadlines ------------------------------------------------------------------


async def test_the_workers_replies_complete_the_saga_with_its_plan(world: World) -> None:
    saga_id = await started(world)
    (forecast_command,) = world.sent(ForecastDemand)
    forecast = reply_to(forecast_command, world.clock.now)
    await world.orchestrator.handle(forecast)
    (schedule_command,) = world.sent(ScheduleProduction)
    schedule = reply_to(schedule_command, world.clock.now)
    await world.orchestrator.handle(schedule)
    (procurement_command,) = world.sent(PlanProcurement)
    procurement = reply_to(procurement_command, world.clock.now)
    await world.orchestrator.handle(procurement)

    assert isinstance(forecast, DemandForecasted)
    assert isinstance(schedule, ProductionScheduled)
    assert isinstance(procurement, ProcurementPlanned)
    assert world.saga(saga_id).state.status is SagaStatus.COMPLETED
    assert [type(o.message) for o in world.stores.outbox] == [
        SnapshotTaken,
        ForecastDemand,
        ScheduleProduction,
        PlanProcurement,
        PlanReady,
    ]
    assert schedule_command.event_id == ids.step_command_id(saga_id, "production", 1)
    assert schedule_command.forecast == forecast.forecast
    assert procurement_command.event_id == ids.step_command_id(saga_id, "procurement", 1)
    assert procurement_command.requirements == schedule.requirements
    assert procurement_command.purpose == "daily"
    (ready,) = world.sent(PlanReady)
    assert ready.event_id == ids.outcome_event_id(saga_id, SagaStatus.COMPLETED)
    assert (ready.batches, ready.purchase_lines) == (len(schedule.batches), len(procurement.purchase_lines))
    assert ready.batches > 0
    assert ready.purchase_lines > 0
    assert [line.kind for line in world.stores.timeline(saga_id)] == [
        "started",
        "RunStep",
        *["step_done", "RunStep"] * 2,
        "step_done",
        "FinishSaga",
    ]
    assert world.finished == ["COMPLETED"]


async def test_a_failed_production_step_compensates_the_forecast(world: World) -> None:
    saga_id = await started(world)
    (forecast_command,) = world.sent(ForecastDemand)
    await world.orchestrator.handle(reply_to(forecast_command, world.clock.now))
    (schedule_command,) = world.sent(ScheduleProduction)

    envelope = a_reply_envelope(schedule_command, world.clock.now)
    await world.orchestrator.handle(StepFailed(step="production", reason="oven 2 is out of order", **envelope))

    assert world.saga(saga_id).state.status is SagaStatus.COMPENSATING
    (discard,) = world.sent(DiscardForecast)
    assert (discard.event_id, discard.attempt) == (ids.compensation_command_id(saga_id, "forecasting", 1), 1)
    assert world.sent(CancelProductionBatches) == []  # production made nothing to cancel
    assert world.finished == []

    envelope = a_reply_envelope(discard, world.clock.now)
    await world.orchestrator.handle(StepCompensated(step="forecasting", affected_rows=14, **envelope))

    assert world.saga(saga_id).state.status is SagaStatus.COMPENSATED
    (outcome,) = world.sent(PlanCompensated)
    assert outcome.event_id == ids.outcome_event_id(saga_id, SagaStatus.COMPENSATED)
    assert "production: oven 2 is out of order" in outcome.reason
    assert world.sent(PlanReady) == []
    assert world.finished == ["COMPENSATED"]


async def test_a_passed_deadline_compensates_the_step_that_did_not_answer(world: World) -> None:
    saga_id = await started(world)
    world.clock.advance(STEP_TIMEOUT - timedelta(seconds=1))
    assert await world.orchestrator.tick() == 0  # the worker still has a second
    world.clock.advance(timedelta(seconds=2))

    assert await world.orchestrator.tick() == 1

    saga = world.saga(saga_id)
    assert saga.state.status is SagaStatus.COMPENSATING
    assert saga.state.step("forecasting").status is StepStatus.COMPENSATING
    (discard,) = world.sent(DiscardForecast)  # the silent worker may still have written drafts
    assert ("deadline_passed", None) in [(line.kind, line.step) for line in world.stores.timeline(saga_id)]
    assert await world.orchestrator.tick() == 0  # the compensation's own deadline is still ahead

    envelope = a_reply_envelope(discard, world.clock.now)
    await world.orchestrator.handle(StepCompensated(step="forecasting", affected_rows=0, **envelope))

    assert world.saga(saga_id).state.status is SagaStatus.COMPENSATED
    (outcome,) = world.sent(PlanCompensated)
    assert "no reply before the deadline" in outcome.reason


# --- admission -------------------------------------------------------------------------------------


async def test_a_trigger_waits_while_max_running_sagas_run_and_starts_after_one_ends() -> None:
    world = World(max_running=1)
    first = await started(world, a_trigger(BAKERY))
    waiting = a_trigger(OTHER_BAKERY)

    with pytest.raises(DeferredError, match="1 sagas in flight") as deferred:
        await world.orchestrator.handle(waiting)

    assert deferred.value.retry_after > 0
    assert [s.saga_id for s in world.stores.sagas()] == [first]
    (forecast_command,) = world.sent(ForecastDemand, first)
    envelope = a_reply_envelope(forecast_command, world.clock.now)
    await world.orchestrator.handle(StepFailed(step="forecasting", reason="no sales history", **envelope))
    assert world.saga(first).state.status is SagaStatus.COMPENSATED  # nothing was done, nothing to undo

    await world.orchestrator.handle(waiting)  # the consumer's retry

    second = world.saga(ids.saga_id_for_trigger(waiting.event_id))
    assert (second.tenant_id, second.state.status) == (OTHER_BAKERY, SagaStatus.RUNNING)
    assert len(world.sent(ForecastDemand, second.saga_id)) == 1


# --- low stock -------------------------------------------------------------------------------------


def a_signal(ingredient_id: str, *, on_hand: float, threshold: float, seconds: int = 0) -> LowStockObserved:
    at = START + timedelta(seconds=seconds)
    return LowStockObserved(
        event_id=uuid4(),
        tenant_id=BAKERY,
        occurred_at=at,
        ingredient_id=ingredient_id,
        quantity_on_hand=on_hand,
        threshold=threshold,
        observed_at=at,
    )


def ingredient_ids() -> list[str]:
    return [i.ingredient_id for i in a_tenant(BAKERY).ingredients]


async def test_a_burst_of_signals_starts_one_procurement_only_saga_once_the_window_passed(world: World) -> None:
    flour, butter, *_ = ingredient_ids()
    burst = [
        a_signal(flour, on_hand=8.0, threshold=20.0),
        a_signal(flour, on_hand=5.0, threshold=20.0, seconds=1),  # the newer count of flour
        a_signal(butter, on_hand=1.0, threshold=12.0, seconds=2),
    ]
    for signal in burst:
        await world.low_stock.record(signal)
    await world.low_stock.record(burst[0])  # a redelivery

    assert await world.low_stock.scan() == 0
    world.clock.advance(DEBOUNCE - timedelta(seconds=1))
    assert await world.low_stock.scan() == 0
    assert world.stores.sagas() == []
    world.clock.advance(timedelta(seconds=1))

    assert await world.low_stock.scan() == 1

    (saga,) = world.stores.sagas()
    trigger_id = ids.low_stock_trigger_id(BAKERY, [s.event_id for s in burst])
    assert saga.saga_id == ids.saga_id_for_trigger(trigger_id)
    assert (saga.kind, saga.tenant_id, saga.state.status) == (SagaKind.LOW_STOCK, BAKERY, SagaStatus.RUNNING)
    assert [type(o.message) for o in world.stores.outbox] == [SnapshotTaken, PlanProcurement]
    (plan,) = world.sent(PlanProcurement)
    assert (plan.saga_id, plan.purpose) == (saga.saga_id, "low_stock")
    assert sorted((f.ingredient_id, f.quantity) for f in plan.stock_floors) == sorted([(flour, 20.0), (butter, 12.0)])
    assert {i.ingredient_id for i in plan.ingredients} == {flour, butter}
    on_hand = {i: sum(lot.quantity for lot in plan.stock_lots if lot.ingredient_id == i) for i in (flour, butter)}
    assert on_hand == pytest.approx({flour: 5.0, butter: 1.0})
    assert [(a.direction, a.message.event_id) for a in world.stores.archive][:3] == [("in", s.event_id) for s in burst]
    assert world.commits == 1

    assert await world.low_stock.scan() == 0
    assert len(world.stores.sagas()) == 1


async def test_a_signal_during_a_running_low_stock_saga_waits_for_the_next_one(world: World) -> None:
    flour, _, sugar, *_ = ingredient_ids()
    await world.low_stock.record(a_signal(flour, on_hand=2.0, threshold=20.0))
    world.clock.advance(DEBOUNCE)
    assert await world.low_stock.scan() == 1
    (first,) = world.stores.sagas()
    later = a_signal(sugar, on_hand=0.5, threshold=4.0, seconds=40)
    await world.low_stock.record(later)
    world.clock.advance(2 * DEBOUNCE)

    assert await world.low_stock.scan() == 0

    (plan,) = world.sent(PlanProcurement, first.saga_id)
    await world.orchestrator.handle(reply_to(plan, world.clock.now))
    assert world.saga(first.saga_id).state.status is SagaStatus.COMPLETED
    assert world.sent(PlanReady, first.saga_id) != []

    assert await world.low_stock.scan() == 1

    (second,) = [s for s in world.stores.sagas() if s.saga_id != first.saga_id]
    assert second.saga_id == ids.saga_id_for_trigger(ids.low_stock_trigger_id(BAKERY, [later.event_id]))
    (next_plan,) = world.sent(PlanProcurement, second.saga_id)
    assert [f.ingredient_id for f in next_plan.stock_floors] == [sugar]


async def test_a_signal_for_an_unknown_ingredient_is_refused_and_not_kept(world: World) -> None:
    signal = a_signal("no-such-flour", on_hand=1.0, threshold=5.0)

    with pytest.raises(PermanentError, match=rf"tenant {BAKERY}: unknown ingredient 'no-such-flour'"):
        await world.low_stock.record(signal)

    world.clock.advance(2 * DEBOUNCE)
    assert await world.low_stock.scan() == 0
    assert world.seen() == ([], [], [], [], [])
    with pytest.raises(PermanentError):  # the claim was rolled back: a redelivery is refused again
        await world.low_stock.record(signal)
