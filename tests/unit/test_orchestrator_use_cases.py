"""The orchestrator's use cases (`Orchestrator`, `LowStock`) on the in-memory stores and a fake clock:
daily sagas from trigger to plan, compensation, deadlines, admission and low-stock procurement.

The fake is held to the Postgres adapter by `tests/contract/`; the workers' replies are made by the
workers' own pure planners from the commands the saga sent.
"""

from datetime import timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from contracts import ids
from contracts.errors import DeferredError, PlanningError
from contracts.messages import (
    CancelProductionBatches,
    DemandForecasted,
    DiscardForecast,
    ForecastDemand,
    PlanCompensated,
    PlanProcurement,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
    ScheduleProduction,
    SnapshotTaken,
    StepCompensated,
    StepFailed,
)
from contracts.purchasing_messages import PurchaseOrdersReleased, ReleasePurchaseOrders
from contracts.topics import Topic
from orchestrator.engine import SagaStatus, StepStatus
from orchestrator.ports import SagaKind, TimelineLine
from tests.unit.orchestrator_world import (
    BAKERY,
    OTHER_BAKERY,
    STEP_TIMEOUT,
    TODAY,
    World,
    a_reply_envelope,
    a_tenant,
    a_trigger,
    reply_to,
    started,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


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
    (release_command,) = world.sent(ReleasePurchaseOrders)
    released = reply_to(release_command, world.clock.now)
    await world.orchestrator.handle(released)

    assert isinstance(forecast, DemandForecasted)
    assert isinstance(schedule, ProductionScheduled)
    assert isinstance(procurement, ProcurementPlanned)
    assert isinstance(released, PurchaseOrdersReleased)
    assert world.saga(saga_id).state.status is SagaStatus.COMPLETED
    assert [type(o.message) for o in world.stores.outbox] == [
        SnapshotTaken,
        ForecastDemand,
        ScheduleProduction,
        PlanProcurement,
        ReleasePurchaseOrders,
        PlanReady,
    ]
    assert release_command.event_id == ids.step_command_id(saga_id, "release", 1)
    assert release_command.purchase_lines == procurement.purchase_lines
    # released at the moment the procurement reply came, on the tenant's wall clock
    assert release_command.placed_at == world.clock.now
    assert (
        release_command.placed_at.utcoffset()
        == world.clock.now.astimezone(ZoneInfo(a_tenant(BAKERY).timezone)).utcoffset()
    )
    assert (release_command.tenant_name, release_command.currency) == (BAKERY, "EUR")
    assert schedule_command.event_id == ids.step_command_id(saga_id, "production", 1)
    assert schedule_command.forecast == forecast.forecast
    assert procurement_command.event_id == ids.step_command_id(saga_id, "procurement", 1)
    assert procurement_command.requirements == schedule.requirements
    assert procurement_command.purpose == "daily"
    (ready,) = world.sent(PlanReady)
    assert ready.event_id == ids.outcome_event_id(saga_id, SagaStatus.COMPLETED)
    assert (ready.batches, ready.purchase_lines) == (len(schedule.batches), len(procurement.purchase_lines))
    assert ready.purchase_orders == len(released.purchase_orders)
    assert ready.batches > 0
    assert ready.purchase_lines > 0
    assert [line.kind for line in world.stores.timeline(saga_id)] == [
        "started",
        "RunStep",
        *["step_done", "RunStep"] * 3,
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
