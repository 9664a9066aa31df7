"""One bad thing must not stop everything, the orchestrator's scans (docs/resilience.md), on the real
database: a poison item in the deadline scan, the scheduler pass and the low-stock scan is quarantined
(durably, with an alert) while the others go on.

Each test prints one line of the table in docs/resilience.md (`RESILIENCE …`).
"""

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import OperationsAlert
from infra.db import create_engine
from infra.messaging.codec import decode
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import masterdata
from orchestrator.engine import StartSaga, decide, new_saga
from orchestrator.engine.serialization import state_to_dict
from orchestrator.low_stock import LowStock
from orchestrator.ports import SagaKind
from orchestrator.quarantine import PostgresQuarantine, Scan
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.scheduler import run_pass
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import low_stock_signals, outbox, sagas, scan_quarantine, schedule_decisions, schedules
from tests.faults.poison_support import THRESHOLD, report

pytestmark = pytest.mark.faults


@pytest.fixture
async def engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


async def _quarantined(engine: AsyncEngine, scan: Scan) -> dict[str, tuple[int, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(scan_quarantine).where(scan_quarantine.c.scan == scan))
        return {r.item: (r.failures, r.quarantined_at is not None) for r in rows}


async def _alerts(engine: AsyncEngine, item: str) -> list[OperationsAlert]:
    async with engine.connect() as conn:
        payloads = (
            (await conn.execute(select(outbox.c.payload).where(outbox.c.event_type == "ops.alert"))).scalars().all()
        )
    found = [decode(p) for p in payloads]
    return [a for a in found if isinstance(a, OperationsAlert) and item in a.subject]


async def test_a_poison_schedule_is_quarantined_while_the_others_are_decided(engine: AsyncEngine) -> None:
    prefix = f"pzs{uuid.uuid4().hex[:6]}"
    good = [f"{prefix}-{i}" for i in range(20)]
    poison = f"{prefix}-mars"
    rows = [
        {
            "tenant_id": t,
            "time_zone": "Mars/Olympus_Mons" if t == poison else "Europe/Berlin",
            "run_at": clock_time(0, 0),
            "cutoff": clock_time(23, 0),
        }
        for t in [*good[:7], poison, *good[7:]]
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(schedules), rows)
    quarantine = PostgresQuarantine(engine, threshold=THRESHOLD)
    try:
        started = time.monotonic()
        now = datetime.now(UTC)
        passes = [await run_pass(engine, now, horizon_days=14, quarantine=quarantine) for _ in range(THRESHOLD + 1)]
        seconds = time.monotonic() - started
        async with engine.connect() as conn:
            decided = Counter(
                (
                    await conn.execute(
                        select(schedule_decisions.c.tenant_id).where(schedule_decisions.c.tenant_id.like(f"{prefix}%"))
                    )
                ).scalars()
            )
        state = await _quarantined(engine, Scan.SCHEDULES)
        alerts = await _alerts(engine, poison)
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(schedule_decisions).where(schedule_decisions.c.tenant_id.like(f"{prefix}%")))
            await conn.execute(delete(schedules).where(schedules.c.tenant_id.like(f"{prefix}%")))
            await conn.execute(delete(scan_quarantine).where(scan_quarantine.c.item.like(f"{prefix}%")))
            await conn.execute(delete(outbox).where(outbox.c.message_key.like(f"{prefix}%")))
    assert set(decided) == set(good)  # every other schedule decided in the first pass
    assert max(decided.values()) == 1  # once
    assert passes[0].failed == 1
    assert state[poison] == (THRESHOLD, True)
    assert passes[-1].failed == 0  # quarantined: no longer read
    assert len(alerts) == 1
    assert "unknown time zone" in alerts[0].reason
    report(
        "poison schedule",
        load=f"{len(rows)} due schedules, 1 with an unknown time zone",
        fired=f"quarantine after {THRESHOLD} passes + OperationsAlert",
        outcome="20 decided in pass 1, poison skipped from pass 4",
        seconds=f"{seconds:.2f}",
        lost=0,
        duplicates=0,
    )


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_poison_saga_in_the_deadline_scan_is_quarantined_while_the_others_time_out(
    db_settings: Settings, engine: AsyncEngine
) -> None:
    prefix = f"pzd{uuid.uuid4().hex[:6]}"
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=1), compensation_timeout=timedelta(seconds=1), max_compensation_attempts=2
    )
    clock = _Clock()
    past = clock.now - timedelta(minutes=5)
    state = decide(definition, new_saga(definition), StartSaga(past)).state
    ids = [uuid.uuid4() for _ in range(20)]
    poison = ids[5]
    rows = [
        {
            "saga_id": saga_id,
            "tenant_id": f"{prefix}-{i}",
            "business_date": past.date(),
            "kind": SagaKind.DAILY,
            "status": state.status.value,
            "state": {"not": "a saga state"} if saga_id == poison else state_to_dict(state),
            "reason": "",
            "trigger_event_id": uuid.uuid4(),
            "snapshot_sha256": "",
            "next_deadline": state.next_deadline,
            "created_at": past,
            "updated_at": past,
        }
        for i, saga_id in enumerate(ids)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(sagas), rows)
    quarantine = PostgresQuarantine(engine, threshold=THRESHOLD)
    orchestrator = Orchestrator(
        PostgresStores(engine), {SagaKind.DAILY: definition}, clock, lambda: None, quarantine=quarantine
    )
    try:
        started = time.monotonic()
        for _ in range(THRESHOLD + 1):
            await orchestrator.tick()
        seconds = time.monotonic() - started
        async with engine.connect() as conn:
            statuses = dict(
                (await conn.execute(select(sagas.c.saga_id, sagas.c.status).where(sagas.c.saga_id.in_(ids)))).all()
            )
        held = await _quarantined(engine, Scan.DEADLINES)
        alerts = await _alerts(engine, str(poison))
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.message_key.like(f"{prefix}%")))
            await conn.execute(delete(scan_quarantine).where(scan_quarantine.c.item.in_([str(i) for i in ids])))
            await conn.execute(text("DELETE FROM orchestrator.saga_log WHERE saga_id = ANY(:ids)"), {"ids": ids})
            await conn.execute(text("DELETE FROM orchestrator.effect_log WHERE saga_id = ANY(:ids)"), {"ids": ids})
            await conn.execute(delete(sagas).where(sagas.c.saga_id.in_(ids)))
    others = {s: v for s, v in statuses.items() if s != poison}
    assert set(others.values()) == {"COMPENSATING"}  # every other saga's deadline fired: it compensates
    assert statuses[poison] == "RUNNING"  # set aside, not half-done
    assert held[str(poison)] == (THRESHOLD, True)
    assert len(alerts) == 1
    assert alerts[0].tenant_id == f"{prefix}-5"
    report(
        "poison saga in the deadline scan",
        load="20 sagas past their deadline, 1 whose state cannot be read",
        fired=f"quarantine after {THRESHOLD} scans + OperationsAlert",
        outcome="19 timed out (COMPENSATING), poison quarantined",
        seconds=f"{seconds:.2f}",
        lost=0,
        duplicates=0,
    )


async def test_a_poison_tenant_in_the_low_stock_scan_is_quarantined_while_the_others_start(engine: AsyncEngine) -> None:
    prefix = f"pzl{uuid.uuid4().hex[:6]}"
    tenants = [f"{prefix}-{i}" for i in range(4)]
    poison = tenants[1]
    clock = _Clock()
    today = clock.now.date()
    async with engine.begin() as conn:
        for i, tenant in enumerate(tenants):
            await write_tenant(conn, generate_tenant(tenant, profile="small", seed=i, today=today))
        await conn.execute(
            update(masterdata.tenants)
            .where(masterdata.tenants.c.tenant_id == poison)
            .values(timezone="Mars/Olympus_Mons")
        )
        for tenant in tenants:
            ingredient = (
                await conn.execute(
                    select(func.min(masterdata.ingredients.c.ingredient_id)).where(
                        masterdata.ingredients.c.tenant_id == tenant
                    )
                )
            ).scalar_one()
            await conn.execute(
                insert(low_stock_signals).values(
                    event_id=uuid.uuid4(),
                    tenant_id=tenant,
                    ingredient_id=ingredient,
                    quantity_on_hand=1.0,
                    threshold=50.0,
                    observed_at=clock.now,
                    received_at=clock.now,
                )
            )
    definition = low_stock_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    quarantine = PostgresQuarantine(engine, threshold=THRESHOLD)
    scanner = LowStock(
        PostgresStores(engine),
        definition,
        clock,
        lambda: None,
        debounce=timedelta(seconds=1),
        horizon_days=14,
        quarantine=quarantine,
    )
    clock.now += timedelta(seconds=5)
    try:
        started = time.monotonic()
        counts = [await scanner.scan() for _ in range(THRESHOLD + 1)]
        seconds = time.monotonic() - started
        async with engine.connect() as conn:
            started_sagas = Counter(
                (await conn.execute(select(sagas.c.tenant_id).where(sagas.c.tenant_id.in_(tenants)))).scalars()
            )
        held = await _quarantined(engine, Scan.LOW_STOCK)
        alerts = await _alerts(engine, poison)
    finally:
        async with engine.begin() as conn:
            for tenant in tenants:
                await masterdata.delete_tenant(conn, tenant)
            await conn.execute(delete(low_stock_signals).where(low_stock_signals.c.tenant_id.in_(tenants)))
            await conn.execute(delete(outbox).where(outbox.c.message_key.in_(tenants)))
            await conn.execute(delete(scan_quarantine).where(scan_quarantine.c.item.in_(tenants)))
    assert counts[0] == 3  # the three others started in the first scan
    assert set(started_sagas) == set(tenants) - {poison}
    assert max(started_sagas.values()) == 1
    assert held[poison] == (THRESHOLD, True)
    assert len(alerts) == 1
    report(
        "poison tenant in the low-stock scan",
        load="4 tenants with due low-stock signals, 1 with an unknown time zone",
        fired=f"quarantine after {THRESHOLD} scans + OperationsAlert",
        outcome="3 procurement-only sagas started once, poison quarantined",
        seconds=f"{seconds:.2f}",
        lost=0,
        duplicates=0,
    )
