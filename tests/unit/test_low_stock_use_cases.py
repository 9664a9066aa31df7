"""The low-stock use case (`LowStock`) on the in-memory stores and a fake clock: signals kept, one
procurement-only saga per debounced burst, unknown ingredients refused."""

from datetime import timedelta
from uuid import uuid4

import pytest

from contracts import ids
from contracts.errors import PermanentError
from contracts.messages import (
    LowStockObserved,
    PlanProcurement,
    PlanReady,
    SnapshotTaken,
)
from contracts.purchasing_messages import ReleasePurchaseOrders
from orchestrator.engine import SagaStatus
from orchestrator.ports import SagaKind
from tests.unit.orchestrator_world import BAKERY, DEBOUNCE, START, World, a_tenant, reply_to

pytestmark = pytest.mark.unit


@pytest.fixture
def world() -> World:
    return World()


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
    assert await world.low_stock.scan() == 0  # the saga still runs: its release is out
    (release,) = world.sent(ReleasePurchaseOrders, first.saga_id)
    await world.orchestrator.handle(reply_to(release, world.clock.now))
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
