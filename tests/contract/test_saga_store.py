"""The contract of the saga store port (`orchestrator.ports.SagaStore`), run over the in-memory fake
and Postgres alike: what one adapter does, the other must do too. Live sagas are added in a
`rolled_back` unit of work (see `tests/contract/store_records.py`)."""

from dataclasses import replace
from datetime import date, timedelta
from uuid import uuid4

from contracts.messages import DemandForecasted
from contracts.planning import ForecastLine
from orchestrator.engine import SagaStatus
from orchestrator.ports import (
    SagaKind,
    SagaRecord,
    StepReply,
    TimelineLine,
)
from tests.contract.conftest import TODAY, StoreHarness
from tests.contract.store_records import (
    LONG_AGO,
    T0,
    a_saga,
    a_state,
    an_envelope,
    by_step,
    forecasted,
    procured,
    rolled_back,
    scheduled,
)

# --- sagas: insert, lock, state --------------------------------------------------------------------


async def test_a_saga_reads_back_as_added_then_as_saved(harness: StoreHarness) -> None:
    saga = a_saga(harness.tenant_id(), deadline=T0 + timedelta(minutes=1))
    compensating = a_state(SagaStatus.COMPENSATING, deadline=T0 + timedelta(minutes=2))
    async with rolled_back(harness.stores) as uow:
        assert await uow.sagas.lock(saga.saga_id) is None
        assert await uow.sagas.add(saga, at=T0)
        assert await uow.sagas.lock(saga.saga_id) == saga
        await uow.sagas.save_state(saga.saga_id, saga.state, at=T0, snapshot_sha256="ab" * 32)
        await uow.sagas.save_state(saga.saga_id, compensating, at=T0 + timedelta(seconds=5))
        assert await uow.sagas.lock(saga.saga_id) == replace(saga, state=compensating, snapshot_sha256="ab" * 32)
        assert await uow.sagas.lock(uuid4()) is None


async def test_a_saga_committed_stays_and_a_rolled_back_change_to_it_leaves_nothing(harness: StoreHarness) -> None:
    # COMPLETED: committed, it is no live saga that other runs could see
    saga = a_saga(harness.tenant_id(), status=SagaStatus.COMPLETED)
    started = TimelineLine("started", None, "by a test")
    async with harness.stores() as uow:
        assert await uow.sagas.add(saga, at=T0)
        await uow.sagas.log(saga.saga_id, [started], at=T0)
    async with rolled_back(harness.stores) as uow:
        await uow.sagas.save_state(saga.saga_id, a_state(SagaStatus.FAILED), at=T0)
        await uow.sagas.log(saga.saga_id, [TimelineLine("ignored", "procurement", "rolled back")], at=T0)
        await uow.sagas.add_result(saga.saga_id, procured(saga))
        await uow.sagas.log_effect(
            "reply_applied", event_id=uuid4(), saga_id=saga.saga_id, tenant_id=saga.tenant_id, step=None, at=T0
        )
    async with harness.stores() as uow:
        assert await uow.sagas.lock(saga.saga_id) == saga
        assert await uow.sagas.results(saga.saga_id, ["procurement"]) == []
    assert await harness.timeline(saga.saga_id) == [started]
    assert await harness.effects(saga.saga_id) == []


async def test_a_saga_whose_id_or_trigger_is_taken_is_refused(harness: StoreHarness) -> None:
    tenant_id = harness.tenant_id()
    saga = a_saga(tenant_id, status=SagaStatus.COMPENSATED)
    same_id = replace(a_saga(tenant_id, on=TODAY + timedelta(days=1), status=SagaStatus.FAILED), saga_id=saga.saga_id)
    same_trigger = replace(
        a_saga(tenant_id, on=TODAY + timedelta(days=2), status=SagaStatus.FAILED),
        trigger_event_id=saga.trigger_event_id,
    )
    async with rolled_back(harness.stores) as uow:
        assert await uow.sagas.add(saga, at=T0)
        assert not await uow.sagas.add(same_id, at=T0)
        assert not await uow.sagas.add(same_trigger, at=T0)
        assert await uow.sagas.lock(saga.saga_id) == saga
        assert await uow.sagas.lock(same_trigger.saga_id) is None


async def test_one_day_taking_daily_saga_per_tenant_and_date(harness: StoreHarness) -> None:
    tenant_id = harness.tenant_id()
    first = a_saga(tenant_id)
    second = a_saga(tenant_id)
    compensated = a_saga(tenant_id, status=SagaStatus.COMPENSATED)
    tomorrow = a_saga(tenant_id, on=TODAY + timedelta(days=1))
    other_tenant = a_saga(harness.tenant_id())
    low_stock = a_saga(tenant_id, kind=SagaKind.LOW_STOCK)
    async with rolled_back(harness.stores) as uow:
        assert await uow.sagas.add(first, at=T0)
        assert not await uow.sagas.add(second, at=T0)
        assert await uow.sagas.lock(second.saga_id) is None
        for saga in (compensated, tomorrow, other_tenant, low_stock):
            assert await uow.sagas.add(saga, at=T0), saga
        await uow.sagas.save_state(first.saga_id, a_state(SagaStatus.FAILED), at=T0)
        assert await uow.sagas.add(second, at=T0)  # the day is free again once the first failed


async def test_the_day_plan_is_the_running_compensating_or_completed_daily_saga_of_that_date(
    harness: StoreHarness,
) -> None:
    tenant_id = harness.tenant_id()
    not_the_plan = [
        a_saga(tenant_id, status=SagaStatus.COMPENSATED),
        a_saga(tenant_id, status=SagaStatus.FAILED),
        a_saga(tenant_id, kind=SagaKind.LOW_STOCK),
        a_saga(tenant_id, on=TODAY + timedelta(days=1), status=SagaStatus.COMPLETED),
        a_saga(harness.tenant_id()),
    ]
    plan = a_saga(tenant_id)
    async with rolled_back(harness.stores) as uow:
        for saga in not_the_plan:
            assert await uow.sagas.add(saga, at=T0)
        assert await uow.sagas.day_plan(tenant_id, TODAY) is None
        assert await uow.sagas.add(plan, at=T0)
        taken = []
        for status in (SagaStatus.RUNNING, SagaStatus.COMPENSATING, SagaStatus.COMPLETED):
            await uow.sagas.save_state(plan.saga_id, a_state(status), at=T0)
            taken.append(await uow.sagas.day_plan(tenant_id, TODAY))
        await uow.sagas.save_state(plan.saga_id, a_state(SagaStatus.COMPENSATED), at=T0)
        assert await uow.sagas.day_plan(tenant_id, TODAY) is None
        assert await uow.sagas.day_plan(tenant_id, TODAY - timedelta(days=1)) is None
    assert taken == [
        (plan.saga_id, SagaStatus.RUNNING),
        (plan.saga_id, SagaStatus.COMPENSATING),
        (plan.saga_id, SagaStatus.COMPLETED),
    ]


async def test_one_live_low_stock_saga_per_tenant(harness: StoreHarness) -> None:
    tenant_id = harness.tenant_id()
    first, second, third = (a_saga(tenant_id, kind=SagaKind.LOW_STOCK) for _ in range(3))
    async with rolled_back(harness.stores) as uow:
        assert await uow.sagas.add(first, at=T0)
        assert not await uow.sagas.add(second, at=T0)
        assert await uow.sagas.lock(second.saga_id) is None
        assert await uow.sagas.add(a_saga(harness.tenant_id(), kind=SagaKind.LOW_STOCK), at=T0)  # another tenant
        assert await uow.sagas.add(a_saga(tenant_id), at=T0)  # and the tenant's daily plan are no rivals

        await uow.sagas.save_state(first.saga_id, a_state(SagaStatus.COMPLETED), at=T0)
        assert await uow.sagas.add(second, at=T0)
        await uow.sagas.save_state(second.saga_id, a_state(SagaStatus.COMPENSATING), at=T0)
        assert not await uow.sagas.add(third, at=T0)  # compensating is live too


async def test_count_live_counts_running_and_compensating_sagas_of_every_tenant(harness: StoreHarness) -> None:
    one, two = harness.tenant_id(), harness.tenant_id()
    live = [a_saga(one), a_saga(two, status=SagaStatus.COMPENSATING), a_saga(two, kind=SagaKind.LOW_STOCK)]
    ended = [
        a_saga(one, on=TODAY - timedelta(days=1), status=status)
        for status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED)
    ]
    # one snapshot of the shared database: other runs' sagas committing meanwhile do not count
    async with rolled_back(harness.stores, consistent_reads=True) as uow:
        before = await uow.sagas.count_live()
        for saga in [*live, *ended]:
            assert await uow.sagas.add(saga, at=T0)
        added = await uow.sagas.count_live() - before
        await uow.sagas.save_state(live[0].saga_id, a_state(SagaStatus.COMPLETED), at=T0)
        after_one_ended = await uow.sagas.count_live() - before
    assert (added, after_one_ended) == (3, 2)


async def test_due_lists_live_sagas_past_their_deadline_earliest_first(harness: StoreHarness) -> None:
    tenant_id = harness.tenant_id()
    now = LONG_AGO + timedelta(hours=1)

    def at(minutes: int, status: SagaStatus = SagaStatus.RUNNING) -> SagaRecord:
        return a_saga(
            tenant_id,
            on=TODAY + timedelta(days=minutes + 100),
            status=status,
            deadline=now + timedelta(minutes=minutes),
        )

    third, first, on_the_dot, second = at(-10), at(-30), at(0), at(-20, SagaStatus.COMPENSATING)
    not_yet, failed, completed = at(1), at(-40, SagaStatus.FAILED), at(-50, SagaStatus.COMPLETED)
    no_deadline = a_saga(tenant_id, on=TODAY + timedelta(days=200))
    async with rolled_back(harness.stores) as uow:
        for saga in (third, first, on_the_dot, second, not_yet, failed, completed, no_deadline):
            assert await uow.sagas.add(saga, at=T0)
        everything = await uow.sagas.due(now, limit=100)
        two = await uow.sagas.due(now, limit=2)
        await uow.sagas.save_state(first.saga_id, a_state(SagaStatus.COMPENSATED), at=now)
        after_first_ended = await uow.sagas.due(now, limit=100)
    assert everything == [first.saga_id, second.saga_id, third.saga_id, on_the_dot.saga_id]
    assert two == [first.saga_id, second.saga_id]
    assert after_first_ended == [second.saga_id, third.saga_id, on_the_dot.saga_id]


async def test_live_low_stock_tenants_are_those_asked_with_a_running_or_compensating_one(
    harness: StoreHarness,
) -> None:
    running, compensating, completed, daily_only, nothing, not_asked = (harness.tenant_id() for _ in range(6))
    sagas = [
        a_saga(running, kind=SagaKind.LOW_STOCK),
        a_saga(compensating, kind=SagaKind.LOW_STOCK, status=SagaStatus.COMPENSATING),
        a_saga(completed, kind=SagaKind.LOW_STOCK, status=SagaStatus.COMPLETED),
        a_saga(daily_only),
        a_saga(not_asked, kind=SagaKind.LOW_STOCK),
    ]
    async with rolled_back(harness.stores) as uow:
        for saga in sagas:
            assert await uow.sagas.add(saga, at=T0)
        live = await uow.sagas.live_low_stock_tenants([running, compensating, completed, daily_only, nothing])
        none_asked = await uow.sagas.live_low_stock_tenants([])
    assert live == {running, compensating}
    assert none_asked == set()


# --- sagas: timeline, effect log, step results -----------------------------------------------------


async def test_the_timeline_keeps_lines_in_the_order_logged(harness: StoreHarness) -> None:
    saga, other = (a_saga(harness.tenant_id(), status=SagaStatus.COMPLETED) for _ in range(2))
    lines = [
        TimelineLine("started", None, "by operator (cli)"),
        TimelineLine("RunStep", "forecasting", "attempt 1"),
        TimelineLine("step_done", "forecasting", ""),
    ]
    async with harness.stores() as uow:
        for each in (saga, other):
            assert await uow.sagas.add(each, at=T0)
        await uow.sagas.log(saga.saga_id, lines[:2], at=T0)
        await uow.sagas.log(other.saga_id, [TimelineLine("started", None, "another saga")], at=T0)
        await uow.sagas.log(saga.saga_id, [], at=T0)
    async with harness.stores() as uow:
        await uow.sagas.log(saga.saga_id, lines[2:], at=T0 + timedelta(seconds=1))
    assert await harness.timeline(saga.saga_id) == lines


async def test_the_effect_log_keeps_every_row_even_a_repeated_one(harness: StoreHarness) -> None:
    saga = a_saga(harness.tenant_id(), status=SagaStatus.COMPLETED)
    trigger, reply = uuid4(), uuid4()
    async with harness.stores() as uow:
        assert await uow.sagas.add(saga, at=T0)
        for kind, event_id, step in [("saga_started", trigger, None), *[("reply_applied", reply, "forecasting")] * 2]:
            await uow.sagas.log_effect(
                kind, event_id=event_id, saga_id=saga.saga_id, tenant_id=saga.tenant_id, step=step, at=T0
            )
    assert await harness.effects(saga.saga_id) == [
        ("saga_started", trigger, None),
        ("reply_applied", reply, "forecasting"),
        ("reply_applied", reply, "forecasting"),
    ]


async def test_a_step_keeps_its_first_reply_and_results_returns_only_the_steps_asked(harness: StoreHarness) -> None:
    saga = a_saga(harness.tenant_id(), status=SagaStatus.COMPLETED)
    first, redelivered = forecasted(saga, units=10.0), forecasted(saga, units=99.0)
    production = scheduled(saga)
    async with harness.stores() as uow:
        assert await uow.sagas.add(saga, at=T0)
        await uow.sagas.add_result(saga.saga_id, first)
        await uow.sagas.add_result(saga.saga_id, production)
    async with harness.stores() as uow:
        await uow.sagas.add_result(saga.saga_id, redelivered)
        forecasting_only = await uow.sagas.results(saga.saga_id, ["forecasting"])
        both = await uow.sagas.results(saga.saga_id, {"forecasting", "production", "procurement"})
        nothing = await uow.sagas.results(saga.saga_id, [])
        other_saga = await uow.sagas.results(uuid4(), ["forecasting"])
    assert forecasting_only == [first]
    assert by_step(both) == [first, production]
    assert (nothing, other_saga) == ([], [])


async def test_result_lengths_are_the_lengths_of_the_named_lists_of_the_kept_replies(harness: StoreHarness) -> None:
    saga = a_saga(harness.tenant_id(), status=SagaStatus.COMPLETED)
    lines = tuple(
        ForecastLine(product_id=f"P{n:04d}", day=saga.business_date + timedelta(days=n % 2), units=n) for n in range(7)
    )
    forecast = DemandForecasted(forecast=lines, **an_envelope(saga))
    async with harness.stores() as uow:
        assert await uow.sagas.add(saga, at=T0)
        await uow.sagas.add_result(saga.saga_id, forecast)
        await uow.sagas.add_result(saga.saga_id, scheduled(saga))
    wanted = {"forecasting": "forecast", "production": "requirements", "procurement": "purchase_lines"}
    async with harness.stores() as uow:
        lengths = await uow.sagas.result_lengths(saga.saga_id, wanted)
        batches = await uow.sagas.result_lengths(saga.saga_id, {"production": "batches"})
        none_asked = await uow.sagas.result_lengths(saga.saga_id, {})
        other_saga = await uow.sagas.result_lengths(uuid4(), wanted)
    # procurement kept no reply: left out, not 0
    assert lengths == {"forecasting": 7, "production": 1}
    assert batches == {"production": 0}
    assert (none_asked, other_saga) == ({}, {})


async def test_completed_results_are_the_steps_of_the_days_daily_plan_and_recent_low_stock_sagas(
    harness: StoreHarness,
) -> None:
    tenant_id = harness.tenant_id()
    done = SagaStatus.COMPLETED
    daily = a_saga(tenant_id, status=done)
    recent_low_stock = a_saga(tenant_id, kind=SagaKind.LOW_STOCK, on=TODAY - timedelta(days=3), status=done)
    also_today = a_saga(tenant_id, kind=SagaKind.LOW_STOCK, status=done)
    ignored = [
        a_saga(tenant_id, on=TODAY - timedelta(days=1), status=done),  # another day's daily plan
        a_saga(tenant_id, kind=SagaKind.LOW_STOCK, on=TODAY - timedelta(days=11), status=done),  # too old
        a_saga(tenant_id, kind=SagaKind.LOW_STOCK, status=SagaStatus.COMPENSATED),
        a_saga(tenant_id, kind=SagaKind.LOW_STOCK),  # still running
        a_saga(harness.tenant_id(), status=done),  # another tenant's
    ]
    results = {saga.saga_id: procured(saga) for saga in [daily, recent_low_stock, also_today, *ignored]}
    production = scheduled(daily)
    async with rolled_back(harness.stores) as uow:
        # created in this order, which is the order results come back in
        for n, saga in enumerate([recent_low_stock, daily, *ignored, also_today]):
            assert await uow.sagas.add(saga, at=T0 + timedelta(seconds=n))
            await uow.sagas.add_result(saga.saga_id, results[saga.saga_id])
        await uow.sagas.add_result(daily.saga_id, production)

        async def completed(step: str, daily_on: date | None, since: date | None) -> list[StepReply]:
            return await uow.sagas.completed_results(tenant_id, step, daily_on=daily_on, low_stock_since=since)

        since = TODAY - timedelta(days=10)
        both = await completed("procurement", TODAY, since)
        low_stock_only = await completed("procurement", None, since)
        daily_only = await completed("procurement", TODAY, None)
        production_only = await completed("production", TODAY, since)
        neither = await completed("procurement", None, None)
    assert both == [results[recent_low_stock.saga_id], results[daily.saga_id], results[also_today.saga_id]]
    assert low_stock_only == [results[recent_low_stock.saga_id], results[also_today.saga_id]]
    assert daily_only == [results[daily.saga_id]]
    assert production_only == [production]
    assert neither == []
