"""The release, the daily saga's pivot, in the orchestrator's use cases (in memory, fake clock): a
failure before it compensates every step done, a timed-out release is undone first, and once it
completed nothing is."""

from datetime import timedelta
from uuid import UUID

import pytest

from contracts import ids
from contracts.envelope import Message
from contracts.messages import (
    CancelProductionBatches,
    DiscardForecast,
    ForecastDemand,
    PlanCompensated,
    PlanProcurement,
    PlanReady,
    ScheduleProduction,
    StepCompensated,
    StepFailed,
    StepName,
    VoidPurchaseLines,
)
from contracts.purchasing_messages import CancelReleasedOrders, PurchaseOrdersReleased, ReleasePurchaseOrders
from orchestrator.engine import SagaStatus, StepStatus
from orchestrator.saga import daily_plan_definition
from tests.unit.orchestrator_world import STEP_TIMEOUT, World, a_reply_envelope, reply_to, started

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


async def up_to_the_release(world: World) -> tuple[UUID, ReleasePurchaseOrders]:
    saga_id = await started(world)
    for kind in (ForecastDemand, ScheduleProduction, PlanProcurement):
        (command,) = world.sent(kind, saga_id)
        assert isinstance(command, ForecastDemand | ScheduleProduction | PlanProcurement)
        await world.orchestrator.handle(reply_to(command, world.clock.now))
    (release,) = world.sent(ReleasePurchaseOrders, saga_id)
    return saga_id, release


async def answer_compensations(world: World, saga_id: UUID) -> list[str]:
    """Answer each compensation as it comes; the steps compensated, in order."""
    order: list[str] = []
    kinds: dict[type[Message], StepName] = {
        CancelReleasedOrders: "release",
        VoidPurchaseLines: "procurement",
        CancelProductionBatches: "production",
        DiscardForecast: "forecasting",
    }
    while world.saga(saga_id).state.status is SagaStatus.COMPENSATING:
        pending = [(kind, step) for kind, step in kinds.items() if world.sent(kind, saga_id) and step not in order]
        assert pending, f"the saga compensates but sent no compensation after {order}"
        kind, step = pending[0]
        (command,) = world.sent(kind, saga_id)
        order.append(step)
        envelope = a_reply_envelope(command, world.clock.now)
        await world.orchestrator.handle(StepCompensated(step=step, affected_rows=1, **envelope))
    return order


def test_the_daily_saga_has_four_steps_and_the_release_is_its_pivot() -> None:
    definition = daily_plan_definition(
        step_timeout=STEP_TIMEOUT, compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    assert [(s.name, s.pivot) for s in definition.steps] == [
        ("forecasting", False),
        ("production", False),
        ("procurement", False),
        ("release", True),
    ]


async def test_a_failed_release_compensates_procurement_production_and_forecasting(world: World) -> None:
    saga_id, release = await up_to_the_release(world)
    envelope = a_reply_envelope(release, world.clock.now)
    await world.orchestrator.handle(StepFailed(step="release", reason="order number taken", **envelope))

    assert await answer_compensations(world, saga_id) == ["procurement", "production", "forecasting"]
    assert world.sent(CancelReleasedOrders) == []  # a failed release wrote nothing: nothing to cancel
    assert world.saga(saga_id).state.status is SagaStatus.COMPENSATED
    (outcome,) = world.sent(PlanCompensated)
    assert "release: order number taken" in outcome.reason


async def test_a_release_that_does_not_answer_is_undone_first(world: World) -> None:
    saga_id, _ = await up_to_the_release(world)
    world.clock.advance(STEP_TIMEOUT + timedelta(seconds=1))
    assert await world.orchestrator.tick() == 1

    (cancel,) = world.sent(CancelReleasedOrders, saga_id)
    assert cancel.event_id == ids.compensation_command_id(saga_id, "release", 1)
    assert world.saga(saga_id).state.step("release").status is StepStatus.COMPENSATING
    assert await answer_compensations(world, saga_id) == ["release", "procurement", "production", "forecasting"]
    assert world.saga(saga_id).state.status is SagaStatus.COMPENSATED


async def test_once_the_release_completed_a_late_failure_of_it_changes_nothing(world: World) -> None:
    saga_id, release = await up_to_the_release(world)
    released = reply_to(release, world.clock.now)
    await world.orchestrator.handle(released)
    assert world.saga(saga_id).state.status is SagaStatus.COMPLETED
    (ready,) = world.sent(PlanReady, saga_id)
    assert isinstance(released, PurchaseOrdersReleased)
    assert ready.purchase_orders == len(released.purchase_orders)

    envelope = a_reply_envelope(release, world.clock.now)
    await world.orchestrator.handle(StepFailed(step="release", reason="too late", **envelope))
    world.clock.advance(timedelta(hours=1))
    await world.orchestrator.tick()

    assert world.saga(saga_id).state.status is SagaStatus.COMPLETED
    assert world.sent(CancelReleasedOrders) == []
    assert world.sent(VoidPurchaseLines) == []
    assert ("ignored", "release") in [(line.kind, line.step) for line in world.stores.timeline(saga_id)]
