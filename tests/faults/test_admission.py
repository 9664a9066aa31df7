"""A burst of triggers beyond `BAKEPLAN_MAX_RUNNING_SAGAS`: the triggers over the limit wait in Kafka
(deferred: neither parked nor counted as failed attempts) and start as running sagas end. Every plan
completes, and no more sagas than the limit are ever in flight, so waiting in line never counts
against a step deadline (issue 6: the 1,000-tenant burst compensated 28 % of its plans without it)."""

import time
from datetime import datetime

import pytest
from sqlalchemy import select

from orchestrator.tables import sagas
from tests.e2e.support import TODAY
from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.load import KafkaWriter
from tests.faults.waits import saga_statuses

pytestmark = pytest.mark.faults

TENANTS = 8
LIMIT = 2


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    """The largest number of (start, end) spans open at one instant; an end before a start at a tie."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


async def test_a_burst_beyond_the_limit_waits_in_kafka_and_every_plan_completes(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=1, MAX_RUNNING_SAGAS=str(LIMIT))
    await run.start(fleet)
    scope = await run.scope()

    async with KafkaWriter(run.settings) as kafka:  # every trigger at once, milliseconds apart
        triggers = await kafka.triggers([(tenant, TODAY) for tenant in run.tenants])
    sent_at = time.monotonic()

    # the suite's checks: every trigger a saga, none lost, no duplicate effect, nothing parked
    verdict = await verify(scope, triggers, last_fault_at=sent_at, terminal_bound_s=180.0)
    statuses = dict(await saga_statuses(run.engine, run.tenants))
    async with run.engine.connect() as conn:
        spans = [
            (r.created_at, r.updated_at)
            for r in await conn.execute(
                select(sagas.c.created_at, sagas.c.updated_at).where(sagas.c.tenant_id.in_(run.tenants))
            )
        ]
    orchestrator_log = fleet.log_text("orchestrator-1")
    run.report(verdict, statuses=statuses, most_at_once=most_at_once(spans))

    assert statuses == {"COMPLETED": TENANTS}
    assert most_at_once(spans) <= LIMIT
    assert "deferred planning.requested" in orchestrator_log, "the limit was reached and triggers waited"
    assert "parked" not in orchestrator_log
    verdict.assert_clean()
