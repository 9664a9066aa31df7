"""A worker SIGKILLed in the middle of a batch (issue 18): the production worker is started only
once every tenant's production command waits in its topic, so its first fetch is one batch with the
poisoned tenant's command behind other tenants' commands on the same partition. Handling it kills
the worker while the commands before it were handled in the batch's transaction, not yet committed.

What must hold: nothing of the killed batch stayed (the commands before the poison are handled
exactly once after the restart), the delivery was counted before the batch ran, against the first
record of the partition (the row names that offset, not the poison's), and the poison is then found
alone and parked after BAKEPLAN_MAX_DELIVERY_ATTEMPTS deliveries of its own. Every other plan
completes; the poisoned one compensates at its step deadline."""

import asyncio
import time

import pytest
from sqlalchemy import select

from contracts.topics import Topic
from tests.e2e.support import TODAY
from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import Supervisor
from tests.faults.kafka_state import Marks, end_offsets
from tests.faults.load import KafkaWriter, seed_tenants
from tests.faults.test_killing_message import _crashes_at_least, _poisoned_saga_ends, _sharing_a_partition
from workers.production.tables import delivery_attempts

pytestmark = pytest.mark.faults

TENANTS = 12
MAX_DELIVERIES = 3
STEP_TIMEOUT_S = (
    120  # the sagas wait for a production worker that starts late, then behind 4 kills (CI: 75 s was short)
)
TERMINAL_BOUND_S = 150.0
KILLER = "production.schedule_production"


async def _production_commands_queued(run: FaultRun, since: Marks, n: int, *, timeout_s: float) -> None:
    """Until `n` records were written to the production commands topic after `since`."""
    topic = run.settings.topic(Topic.PRODUCTION_COMMANDS)
    deadline = time.monotonic() + timeout_s
    while True:
        ends = await end_offsets(run.settings, [Topic.PRODUCTION_COMMANDS])
        queued = sum(end - since.get(tp, 0) for tp, end in ends.items() if tp.topic == topic)
        if queued >= n:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"only {queued} of {n} production commands after {timeout_s} s")
        await asyncio.sleep(0.5)


async def test_a_worker_killed_in_the_middle_of_a_batch_commits_none_of_it(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    poisoned = _sharing_a_partition(run.tenants, f"{run.tenant_prefix}-poisoned", run.settings.topic_partitions)
    await seed_tenants(run.engine, [poisoned], seed_value=run.seed)
    label = f"production.handling:{KILLER}:{poisoned}"
    fleet = run.fleet(
        workers_per_role=1,
        MAX_DELIVERY_ATTEMPTS=str(MAX_DELIVERIES),
        STEP_TIMEOUT_SECONDS=str(STEP_TIMEOUT_S),
        CONSUMER_BATCH_RECORDS="64",
        CONSUMER_BATCH_MS="600000",  # one batch, not committed part by part: the kill finds work before it undone
        **QUICK_FAILOVER,
    )
    (production,) = fleet.names("production")
    fleet.set_env(production, CRASH_AT=label, CRASH_LOG=str(run.crash_log))
    await run.require_idle_groups()
    await fleet.start(*[n for n in fleet.names() if n != production])
    scope = await run.scope()

    async with KafkaWriter(run.settings) as writer:
        # the poison in the middle: behind the first half of the tenants (tenants[0] shares its partition)
        half = TENANTS // 2
        first = await writer.triggers([(t, TODAY) for t in run.tenants[:half]])
        poison_trigger = await writer.trigger(poisoned, TODAY)
        second = await writer.triggers([(t, TODAY) for t in run.tenants[half:]])
        await _production_commands_queued(run, scope.marks, TENANTS + 1, timeout_s=90)
        await fleet.start(production)
        await _crashes_at_least(run, 1, timeout_s=60)
        # nobody restarted it yet: the batch's delivery count is what the killed worker left
        group = run.settings.group("production")
        topic = run.settings.topic(Topic.PRODUCTION_COMMANDS)
        async with run.engine.connect() as conn:
            counted = (
                await conn.execute(
                    select(delivery_attempts.c.record_offset, delivery_attempts.c.attempts).where(
                        delivery_attempts.c.consumer_group == group,
                        delivery_attempts.c.topic == topic,
                        delivery_attempts.c.kafka_partition == poison_trigger.record.partition,
                    )
                )
            ).one()
        async with Supervisor(fleet) as supervisor:
            triggers = [*first, *second]
            verdict = await verify(
                scope, triggers, last_fault_at=fleet.last_fault_at, terminal_bound_s=TERMINAL_BOUND_S
            )
            poisoned_status = await _poisoned_saga_ends(run, poisoned, timeout_s=STEP_TIMEOUT_S + 60)
    crashes = run.crashes()
    parked = [r for r in verdict.parked.values() if r.key == poisoned.encode()]
    ahead = [t.tenant_id for t in first if t.record.partition == poison_trigger.record.partition]
    run.report(
        verdict,
        faults={"kills": len(crashes), "tenants_ahead_in_the_batch": len(ahead), "parked": len(parked)},
    )

    # the poison was parked, alone, after its own N deliveries
    (record,) = parked
    assert record.headers["dlq.source.topic"] == topic.encode()
    assert record.headers["dlq.attempts"] == str(MAX_DELIVERIES).encode()
    assert f"delivered {MAX_DELIVERIES} times" in record.headers["dlq.reason"].decode()
    # the first kill was in a batch: counted once, against its partition's first record, ahead of the poison
    assert ahead, "no tenant ahead of the poison on its partition: pick another seed"
    assert counted.attempts == 1
    assert counted.record_offset < int(record.headers["dlq.source.offset"])
    # one kill in the batch, then N of its own, each in a new process
    assert [label_ for label_, _ in crashes] == [label] * (MAX_DELIVERIES + 1), crashes
    assert len({pid for _, pid in crashes}) == MAX_DELIVERIES + 1
    assert not supervisor.restart_errors or len(fleet.faults_of("exit", role="production")) >= MAX_DELIVERIES
    # nothing of the killed batch stayed: every other plan completed with each step's effects once
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS}
    assert poisoned_status == {"COMPENSATED": 1}
    verdict.assert_clean()
