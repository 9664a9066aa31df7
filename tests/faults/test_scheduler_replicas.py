"""Two orchestrator replicas run the scheduler over the same due schedules; one is SIGKILLed while
the tenants' runs are being decided and started again. Every tenant still gets exactly one
decision, one trigger id and one completed plan for the day (issue 5: "exactly one trigger per
(tenant, business date), with two or more orchestrator replicas running and across restarts")."""

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, insert, select

from contracts.ids import daily_trigger_id
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.codec import decode
from orchestrator.tables import sagas, schedule_decisions, schedules
from tests.e2e.support import eventually
from tests.faults import kafka_state
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import WORKER_ROLES, Fleet
from tests.faults.verdict import Verdict
from tests.faults.waits import TERMINAL, saga_statuses

pytestmark = pytest.mark.faults

TENANTS = 30
JITTER_S = 12  # spreads the runs over a window, so the kill lands with some tenants decided and some not
LEAD_S = 3  # the shared run time, this far after the schedules are written
ZONES = ("Europe/Madrid", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata", "UTC")


async def test_two_orchestrators_one_killed_and_restarted_trigger_each_tenant_once(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    fleet = Fleet(
        run.settings,
        run.log_dir,
        env={**QUICK_FAILOVER, "SCHEDULE_SCAN_SECONDS": "0.5", "SCHEDULE_JITTER_SECONDS": str(JITTER_S)},
    )
    fleet.add("orchestrator-1", "orchestrator")
    fleet.add("orchestrator-2", "orchestrator")
    for role in WORKER_ROLES:
        fleet.add(f"{role}-1", role)
    run.fleets.append(fleet)
    await run.start(fleet)
    marks = await kafka_state.end_offsets(run.settings, [Topic.TRIGGERS])

    # every tenant's run at the same local second, in a zone where the day has hours left
    now = datetime.now(UTC)
    zone = next(z for z in ZONES if 1 <= now.astimezone(ZoneInfo(z)).hour <= 20)
    local = (now + timedelta(seconds=LEAD_S)).astimezone(ZoneInfo(zone))
    day = local.date()
    async with run.engine.begin() as conn:
        await conn.execute(
            insert(schedules),
            [
                {
                    "tenant_id": t,
                    "time_zone": zone,
                    "run_at": local.time().replace(microsecond=0),
                    "cutoff": (local + timedelta(hours=2)).time().replace(microsecond=0),
                }
                for t in run.tenants
            ],
        )
    try:
        decided_at_kill = await eventually(
            lambda: _decided(run, at_least=TENANTS // 3), timeout_s=LEAD_S + JITTER_S + 30, what="a third decided"
        )
        await fleet.restart("orchestrator-1", sig=signal.SIGKILL)

        await eventually(lambda: _decided(run, at_least=TENANTS), timeout_s=60, what="every tenant decided")
        statuses = await eventually(lambda: _all_terminal(run), timeout_s=90, what="every plan to finish")
        triggers_on_kafka = Counter(
            message.event_id
            for record in await kafka_state.read_since(run.settings, marks)
            if record.value is not None
            and isinstance(message := decode(record.value), PlanningRequested)
            and message.tenant_id in run.tenants
        )
        async with run.engine.connect() as conn:
            decisions = (
                await conn.execute(
                    select(
                        schedule_decisions.c.tenant_id,
                        schedule_decisions.c.business_date,
                        schedule_decisions.c.outcome,
                        schedule_decisions.c.trigger_event_id,
                    ).where(schedule_decisions.c.tenant_id.in_(run.tenants))
                )
            ).all()
            plans = (
                await conn.execute(
                    select(sagas.c.tenant_id, sagas.c.business_date, sagas.c.status, sagas.c.trigger_event_id).where(
                        sagas.c.tenant_id.in_(run.tenants)
                    )
                )
            ).all()
            trigger_ids_in_sagas = (
                await conn.execute(
                    select(sagas.c.trigger_event_id, func.count())
                    .where(sagas.c.tenant_id.in_(run.tenants))
                    .group_by(sagas.c.trigger_event_id)
                )
            ).all()
    finally:
        async with run.engine.begin() as conn:  # a later orchestrator on this stack must not fire them tomorrow
            await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(run.tenants)))

    expected = {t: daily_trigger_id(t, day) for t in run.tenants}
    run.report(
        Verdict(),  # the properties are asserted below; the report carries the figures
        decided_at_kill=decided_at_kill,
        orchestrator_starts={n: fleet.replicas[n].starts for n in fleet.names("orchestrator")},
        scheduler_passes_with_decisions={
            n: fleet.log_text(n).count("scheduler pass:") for n in fleet.names("orchestrator")
        },
        trigger_records_on_kafka=sum(triggers_on_kafka.values()),
        trigger_ids_on_kafka_more_than_once=sum(1 for n in triggers_on_kafka.values() if n > 1),
    )
    # the fault happened mid-way: some tenants were decided before the kill, some after the restart
    assert 0 < decided_at_kill < TENANTS
    assert fleet.replicas["orchestrator-1"].starts == 2
    assert fleet.running("orchestrator-1")
    assert fleet.running("orchestrator-2")
    # one decision per tenant and day, fired with the day's trigger id
    assert sorted((d.tenant_id, d.business_date, d.outcome, d.trigger_event_id) for d in decisions) == sorted(
        (t, day, "FIRED", trigger) for t, trigger in expected.items()
    )
    # one plan per tenant and day, completed, started by that trigger; no trigger started two
    assert sorted((p.tenant_id, p.business_date, p.status, p.trigger_event_id) for p in plans) == sorted(
        (t, day, "COMPLETED", trigger) for t, trigger in expected.items()
    )
    assert statuses == {"COMPLETED": TENANTS}
    assert all(count == 1 for _, count in trigger_ids_in_sagas)
    # every trigger reached Kafka; a relay killed between publishing and marking its rows sent may
    # publish one again (the orchestrator's inbox drops it, as the plans above show), never a new id
    assert set(triggers_on_kafka) == set(expected.values())


async def _decided(run: FaultRun, *, at_least: int) -> int | None:
    async with run.engine.connect() as conn:
        n: int = (
            await conn.execute(
                select(func.count())
                .select_from(schedule_decisions)
                .where(schedule_decisions.c.tenant_id.in_(run.tenants))
            )
        ).scalar_one()
    return n if n >= at_least else None


async def _all_terminal(run: FaultRun) -> dict[str, int] | None:
    statuses = await saga_statuses(run.engine, run.tenants)
    done = sum(n for status, n in statuses.items() if status in TERMINAL)
    return dict(statuses) if done == TENANTS and sum(statuses.values()) == TENANTS else None
