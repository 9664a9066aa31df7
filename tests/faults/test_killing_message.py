"""A message that SIGKILLs its worker every time it is handled: one tenant's production command. The
supervisor restarts the worker; Kafka redelivers the command (its offset was never committed). The
deliveries are counted in Postgres before each attempt, so the command is parked after
BAKEPLAN_MAX_DELIVERY_ATTEMPTS deliveries although no process lived through more than one, and the
messages behind it on its partition proceed: every other tenant's plan completes, and the poisoned
tenant's saga compensates at its step deadline."""

import asyncio
import time
from collections import Counter

import pytest
from aiokafka.partitioner import DefaultPartitioner

from contracts.topics import Topic
from tests.e2e.support import TODAY
from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import Supervisor
from tests.faults.load import KafkaWriter, seed_tenants
from tests.faults.waits import saga_statuses

pytestmark = pytest.mark.faults

TENANTS = 12
MAX_DELIVERIES = 3
STEP_TIMEOUT_S = 90  # the others wait behind the poison on its partition: no step deadline may pass for them
TERMINAL_BOUND_S = 150.0
KILLER = "production.schedule_production"


async def _crashes_at_least(run: FaultRun, n: int, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(run.crashes()) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(run.crashes())} of {n} crash(es) after {timeout_s} s")
        await asyncio.sleep(0.2)


def _sharing_a_partition(tenants: list[str], prefix: str, partitions: int) -> str:
    """A new tenant id whose records land on the partition of `tenants[0]` (Kafka's key hash)."""
    partition_of = DefaultPartitioner()
    every = list(range(partitions))
    target = partition_of(tenants[0].encode(), every, every)
    return next(f"{prefix}{i}" for i in range(1000) if partition_of(f"{prefix}{i}".encode(), every, every) == target)


async def _poisoned_saga_ends(run: FaultRun, tenant_id: str, *, timeout_s: float) -> Counter[str]:
    """The poisoned tenant's saga statuses once it is terminal (it waits for its step deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = await saga_statuses(run.engine, [tenant_id])
        if statuses and not {"RUNNING", "COMPENSATING"} & set(statuses):
            return statuses
        if time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.5)


async def test_a_message_that_kills_its_worker_is_parked_after_n_deliveries(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    # not in run.tenants (the checks account for the others only), and sharing a partition with some of
    # them, so their messages queue behind the poison
    poisoned = _sharing_a_partition(run.tenants, f"{run.tenant_prefix}-poisoned", run.settings.topic_partitions)
    await seed_tenants(run.engine, [poisoned], seed_value=run.seed)
    label = f"production.handling:{KILLER}:{poisoned}"
    fleet = run.fleet(
        workers_per_role=1,
        MAX_DELIVERY_ATTEMPTS=str(MAX_DELIVERIES),
        STEP_TIMEOUT_SECONDS=str(STEP_TIMEOUT_S),
        **QUICK_FAILOVER,
    )
    for name in fleet.names("production"):
        fleet.set_env(name, CRASH_AT=label, CRASH_LOG=str(run.crash_log))
    await run.start(fleet)
    scope = await run.scope()

    async with Supervisor(fleet) as supervisor, KafkaWriter(run.settings) as writer:
        poison_trigger = await writer.trigger(poisoned, TODAY)
        await _crashes_at_least(run, 1, timeout_s=60)  # the poison is being handled: the rest queue behind it
        triggers = await writer.triggers([(t, TODAY) for t in run.tenants])
        verdict = await verify(scope, triggers, last_fault_at=fleet.last_fault_at, terminal_bound_s=TERMINAL_BOUND_S)
        poisoned_status = await _poisoned_saga_ends(run, poisoned, timeout_s=STEP_TIMEOUT_S + 60)
    crashes = run.crashes()
    behind = [t.tenant_id for t in triggers if t.record.partition == poison_trigger.record.partition]
    parked = [r for r in verdict.parked.values() if r.key == poisoned.encode()]
    run.report(
        verdict,
        faults={"kills": len(crashes), "tenants_behind_the_poison": len(behind), "parked": len(parked)},
    )

    # the message killed its worker on each of N deliveries, each in a new process, and no more
    assert [label_ for label_, _ in crashes] == [label] * MAX_DELIVERIES, crashes
    assert len({pid for _, pid in crashes}) == MAX_DELIVERIES
    assert len(fleet.faults_of("exit", role="production")) == MAX_DELIVERIES, supervisor.restart_errors
    # then it was parked, saying why, with the count of deliveries that never finished
    (record,) = parked
    assert record.topic == run.settings.topic(Topic.DEAD_LETTER)
    assert record.headers["dlq.source.topic"] == run.settings.topic(Topic.PRODUCTION_COMMANDS).encode()
    assert record.headers["dlq.attempts"] == str(MAX_DELIVERIES).encode()
    reason = record.headers["dlq.reason"].decode()
    assert f"delivered {MAX_DELIVERIES} times" in reason
    assert "never finished" in reason
    # and everything behind it proceeded: the other plans completed, the poisoned one compensated
    assert behind, "no other tenant shares the poisoned tenant's partition: pick another seed or more tenants"
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS}
    assert poisoned_status == Counter({"COMPENSATED": 1})
    verdict.assert_clean()
