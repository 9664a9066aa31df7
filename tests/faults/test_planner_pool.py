"""A message whose planning kills its planner process, every time: one tenant's production command
(test hook `production.planner:<tenant>`, a SIGKILL inside the planner process). The worker process
lives on: it replaces the planner process, counts the delivery as failed, retries it with backoff and
parks it after BAKEPLAN_MAX_DELIVERY_ATTEMPTS, saying why. The other tenants plan meanwhile, on the
same single production replica, and their sagas complete; the poisoned one compensates at its step
deadline. Compare `test_killing_message.py`, where the message kills the worker itself."""

import asyncio
import time
from collections import Counter

import pytest

from contracts.topics import Topic
from tests.e2e.support import TODAY
from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.load import KafkaWriter, seed_tenants
from tests.faults.waits import saga_statuses

pytestmark = pytest.mark.faults

TENANTS = 6
MAX_DELIVERIES = 3
STEP_TIMEOUT_S = 20
TERMINAL_BOUND_S = 60.0


async def _saga_ends(run: FaultRun, tenant_id: str, *, timeout_s: float) -> Counter[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = await saga_statuses(run.engine, [tenant_id])
        if (statuses and not {"RUNNING", "COMPENSATING"} & set(statuses)) or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.5)


async def test_a_message_that_kills_its_planner_process_is_parked_and_the_worker_lives_on(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    poisoned = f"{run.tenant_prefix}-poisoned"  # not in run.tenants: the checks account for the others
    await seed_tenants(run.engine, [poisoned], seed_value=run.seed)
    label = f"production.planner:{poisoned}"
    fleet = run.fleet(
        workers_per_role=1,
        MAX_DELIVERY_ATTEMPTS=str(MAX_DELIVERIES),
        STEP_TIMEOUT_SECONDS=str(STEP_TIMEOUT_S),
        PLANNER_PROCESSES="1",
    )
    (production,) = fleet.names("production")
    fleet.set_env(production, CRASH_AT=label, CRASH_LOG=str(run.crash_log))
    await run.start(fleet)
    scope = await run.scope()
    worker_pid = fleet.replicas[production].pids[-1]

    async with KafkaWriter(run.settings) as writer:
        sent_at = time.monotonic()  # the planner kills begin with the first production step: bound from here
        await writer.trigger(poisoned, TODAY)
        triggers = await writer.triggers([(t, TODAY) for t in run.tenants])
        verdict = await verify(scope, triggers, last_fault_at=sent_at, terminal_bound_s=TERMINAL_BOUND_S)
        poisoned_status = await _saga_ends(run, poisoned, timeout_s=STEP_TIMEOUT_S + 30)
    crashes = run.crashes()
    parked = [r for r in verdict.parked.values() if r.key == poisoned.encode()]
    run.report(verdict, faults={"planner_kills": len(crashes), "parked": len(parked)})

    # each delivery killed a planner process (a new one each time), never the worker
    assert [label_ for label_, _ in crashes] == [label] * MAX_DELIVERIES, crashes
    assert len({pid for _, pid in crashes}) == MAX_DELIVERIES
    assert worker_pid not in {pid for _, pid in crashes}
    replica = fleet.replicas[production]
    assert replica.proc is not None
    assert replica.proc.poll() is None, "the production worker died"
    assert replica.pids == [worker_pid], "the production worker was restarted"
    # parked after N failed deliveries, saying why
    (record,) = parked
    assert record.topic == run.settings.topic(Topic.DEAD_LETTER)
    assert record.headers["dlq.source.topic"] == run.settings.topic(Topic.PRODUCTION_COMMANDS).encode()
    assert record.headers["dlq.attempts"] == str(MAX_DELIVERIES).encode()
    assert record.headers["dlq.exception"] == b"PlannerFailedError"
    assert "died while planning" in record.headers["dlq.reason"].decode()
    # the other tenants planned, on the same worker; the poisoned saga compensated at its deadline
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS}
    assert poisoned_status == Counter({"COMPENSATED": 1})
    verdict.assert_clean()
