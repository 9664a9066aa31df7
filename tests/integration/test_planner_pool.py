"""Planning in planner processes (`workers.shell.planning_pool`), through the forecasting worker's
handler on real Postgres: the event loop stays free while a tenant plans, a planner process that dies
or hangs fails only its own delivery (the worker and the pool live on), and planning before the
transaction keeps effects exactly once."""

import asyncio
import dataclasses
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Message
from contracts.errors import PlanningError
from contracts.messages import DemandForecasted, StepFailed
from contracts.planning import Capacity, PlanningPolicy, PlanningSnapshot
from infra.messaging.codec import decode, encode
from infra.messaging.transient import is_transient
from lab.synthetic import generate_tenant
from orchestrator.engine import RunStep
from orchestrator.saga import StepResults, to_messages
from workers.forecasting import tables
from workers.forecasting.handler import SPEC as FORECASTING
from workers.forecasting.handler import plan as forecast_plan
from workers.shell.planning_pool import NO_FAULT, PlannerFailedError, PlannerFault, PlannerPool
from workers.shell.runtime import StepResult, StepWorker, reply_envelope

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
GATE_WAIT_S = 8.0


def gate_of(tenant_id: str) -> Path:
    """The file that opens `tenant_id`'s gate: named by the tenant, since planner processes fork from a
    fork server that may have started before this test (they do not see its environment)."""
    return Path(tempfile.gettempdir()) / f"bakeplan-planner-gate-{tenant_id}"


def gated_plan(command: Any, envelope: dict[str, Any]) -> StepResult:
    """The forecasting planner, except that a `gated-` tenant's plan first waits for the gate file (the
    test opens it), and an `unplannable-` tenant's plan raises `PlanningError`."""
    if command.tenant_id.startswith("gated-"):
        gate = gate_of(command.tenant_id)
        deadline = time.monotonic() + GATE_WAIT_S
        while not gate.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gate {gate} stayed shut for {GATE_WAIT_S} s")
            time.sleep(0.01)
    if command.tenant_id.startswith("unplannable-"):
        raise PlanningError(f"tenant {command.tenant_id}: no sales history to forecast from")
    return forecast_plan(command, envelope)


GATED = dataclasses.replace(FORECASTING, plan=gated_plan)


def a_command(tenant_id: str) -> Message:
    """A small tenant's forecasting command of a new saga."""
    tenant = generate_tenant(tenant_id, profile="small", seed=5, today=TODAY)
    snapshot = PlanningSnapshot(
        tenant_id=tenant_id,
        business_date=TODAY,
        horizon_days=7,
        products=tenant.products,
        recipes=tenant.recipes,
        ingredients=tenant.ingredients,
        stock_lots=tenant.stock_lots,
        suppliers=tenant.suppliers,
        sales=tenant.sales,
        calendar=tenant.calendar,
        capacity=Capacity(oven_minutes_per_day=900, mixer_minutes_per_day=None),
        policy=PlanningPolicy(),
    )
    (outgoing,) = to_messages(
        RunStep("forecasting"),
        saga_id=uuid.uuid4(),
        tenant_id=tenant_id,
        business_date=TODAY,
        attempt=1,
        snapshot=snapshot,
        results=StepResults(),
        causation_id=uuid.uuid4(),
        now=NOW,
    )
    return outgoing.message


@pytest.fixture
def gated_tenant() -> Iterator[str]:
    """A tenant whose plan waits for its gate; the gate opens at the end whatever happened."""
    tenant_id = f"gated-{uuid.uuid4().hex[:8]}"
    gate = gate_of(tenant_id)
    yield tenant_id
    gate.touch()  # never leave a planner waiting
    time.sleep(0.1)
    gate.unlink(missing_ok=True)


def _pool(processes: int, *, timeout_seconds: float = 30, fault: PlannerFault = NO_FAULT) -> PlannerPool:
    return PlannerPool(processes, timeout_seconds=timeout_seconds, preload=[__name__], fault=fault)


def _worker(engine: AsyncEngine, pool: PlannerPool) -> StepWorker:
    return StepWorker(GATED, engine=engine, clock=lambda: NOW, on_commit=lambda: None, planner=pool)


async def _drafts(engine: AsyncEngine, command: Message) -> int:
    f = tables.forecasts.c
    async with engine.connect() as conn:
        query = select(func.count()).where(f.saga_id == command.saga_id, f.status == "draft")
        return int((await conn.execute(query)).scalar_one())


async def _replies(engine: AsyncEngine, command: Message) -> list[Message]:
    o = tables.outbox.c
    async with engine.connect() as conn:
        payloads = (await conn.execute(select(o.payload).where(o.message_key == command.tenant_id))).scalars().all()
    return [m for m in map(decode, payloads) if m.causation_id == command.event_id]


async def _claimed(engine: AsyncEngine, command: Message) -> bool:
    i = tables.inbox.c
    async with engine.connect() as conn:
        query = select(func.count()).where(i.event_id == command.event_id)
        return bool((await conn.execute(query)).scalar_one())


async def _gone(pid: int) -> bool:
    """True once process `pid` no longer exists (killed and reaped), polling for 5 s."""
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_other_messages_are_handled_while_a_tenant_plans(engine: AsyncEngine, gated_tenant: str) -> None:
    """The gated tenant's plan holds a planner process until the test opens the gate; meanwhile the
    event loop handles another tenant's command to its commit. Planning on the loop (processes=0)
    would block it: the other command would wait, and the gated plan would time out."""
    pool = _pool(2)
    await pool.start()
    try:
        worker = _worker(engine, pool)
        slow, other = a_command(gated_tenant), a_command(f"it-{uuid.uuid4().hex[:8]}")
        planning = asyncio.create_task(worker.handle(slow))
        ticks = 0

        async def probe() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        prober = asyncio.create_task(probe())
        await worker.handle(other)
        assert not planning.done(), "the gated plan finished before its gate opened"
        assert await _drafts(engine, other) > 0
        assert await _drafts(engine, slow) == 0
        ticks_while_planning = ticks
        prober.cancel()
        await asyncio.to_thread(gate_of(gated_tenant).touch)
        await asyncio.wait_for(planning, 30)
    finally:
        pool.close()
    assert ticks_while_planning > 0, "the event loop never ran the probe while the tenant planned"
    assert await _drafts(engine, slow) > 0
    assert [type(r) for r in await _replies(engine, slow)] == [DemandForecasted]


async def test_a_planner_process_that_dies_fails_only_its_delivery(engine: AsyncEngine, tmp_path: Path) -> None:
    doomed, other = f"it-doomed-{uuid.uuid4().hex[:8]}", f"it-{uuid.uuid4().hex[:8]}"
    crash_log = tmp_path / "crashes"
    pool = _pool(1, fault=PlannerFault(f"forecasting.planner:{doomed}", str(crash_log)))
    try:
        worker = _worker(engine, pool)
        command = a_command(doomed)
        with pytest.raises(PlannerFailedError, match="died while planning") as failed:
            await worker.handle(command)
        assert not is_transient(failed.value), "a dying planner must count as a failed attempt, not an outage"
        assert not await _claimed(engine, command), "a failed delivery must not claim the event id"
        assert await _drafts(engine, command) == 0
        (line,) = crash_log.read_text().splitlines()
        assert line.startswith(f"forecasting.planner:{doomed} ")
        # the pool replaced the dead process: the next tenant plans
        next_command = a_command(other)
        await worker.handle(next_command)
        assert await _drafts(engine, next_command) > 0
    finally:
        pool.close()
    # the redelivery, once the cause is gone, plans and writes once
    healthy = _pool(1)
    try:
        await _worker(engine, healthy).handle(command)
    finally:
        healthy.close()
    assert await _drafts(engine, command) > 0
    assert [type(r) for r in await _replies(engine, command)] == [DemandForecasted]


async def test_a_hung_plan_is_killed_at_the_timeout(engine: AsyncEngine) -> None:
    hung = f"it-hung-{uuid.uuid4().hex[:8]}"
    pool = _pool(1, timeout_seconds=3, fault=PlannerFault(f"forecasting.planner_hang:{hung}"))
    await pool.start()
    try:
        (pid,) = (slot.pid for slot in pool._slots)
        worker = _worker(engine, pool)
        with pytest.raises(PlannerFailedError, match="BAKEPLAN_PLANNER_TIMEOUT_SECONDS=3;") as failed:
            await worker.handle(a_command(hung))
        assert not is_transient(failed.value)
        assert await _gone(pid), f"the hung planner process {pid} was left running"
        other = a_command(f"it-{uuid.uuid4().hex[:8]}")
        await worker.handle(other)
        assert await _drafts(engine, other) > 0
    finally:
        pool.close()


async def test_a_duplicate_delivery_plans_twice_and_writes_once(engine: AsyncEngine) -> None:
    pool = _pool(2)
    try:
        worker = _worker(engine, pool)
        command = a_command(f"it-{uuid.uuid4().hex[:8]}")
        await asyncio.gather(worker.handle(command), worker.handle(command))
        once = await _drafts(engine, command)
        await worker.handle(command)
    finally:
        pool.close()
    single = a_command(command.tenant_id)
    await _worker(engine, PlannerPool(0, timeout_seconds=1)).handle(single)
    assert once == await _drafts(engine, command) == await _drafts(engine, single) > 0
    assert [type(r) for r in await _replies(engine, command)] == [DemandForecasted]


async def test_a_planning_error_in_a_planner_process_fails_the_step(engine: AsyncEngine) -> None:
    pool = _pool(1)
    try:
        command = a_command(f"unplannable-{uuid.uuid4().hex[:8]}")
        await _worker(engine, pool).handle(command)
    finally:
        pool.close()
    (reply,) = await _replies(engine, command)
    assert isinstance(reply, StepFailed)
    assert "no sales history to forecast from" in reply.reason
    assert await _drafts(engine, command) == 0


async def test_the_reply_is_encoded_in_the_planner_process_and_queued_as_planned(engine: AsyncEngine) -> None:
    command = a_command(f"it-{uuid.uuid4().hex[:8]}")
    envelope = reply_envelope(command, "done", NOW)
    expected = gated_plan(command, envelope).reply
    pool = _pool(1)
    try:
        planned = await pool.run(gated_plan, command, envelope, step="forecasting")
        await _worker(engine, pool).handle(command)
    finally:
        pool.close()
    # what comes back is the envelope and the encoding, not the whole reply to unpickle
    assert type(planned.reply) is Message
    assert planned.reply.model_dump() == {name: getattr(expected, name) for name in Message.model_fields}
    assert decode(planned.reply_payload) == expected
    o = tables.outbox.c
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(o.event_id, o.event_type, o.message_key, o.payload).where(o.event_id == expected.event_id)
            )
        ).one()
    assert (row.event_type, row.message_key) == (expected.event_type, command.tenant_id)
    assert bytes(row.payload) == encode(expected)
