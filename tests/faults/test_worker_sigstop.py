"""A worker replica is paused (SIGSTOP) past max.poll.interval.ms and session.timeout.ms: the group
evicts it and hands its partitions to the other replica, which carries on; then it is resumed
(SIGCONT) and finds its partitions gone — whatever it was doing must not take effect twice."""

import asyncio
import time

import pytest

from infra.settings import Settings
from orchestrator.saga import STEP_TOPICS
from tests.faults import kafka_state
from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.harness import WORKER_ROLES
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.waits import saga_statuses, while_running

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 3
SESSION_TIMEOUT_MS = 6_000
MAX_POLL_INTERVAL_MS = 10_000
TERMINAL_BOUND_S = 90.0


async def test_paused_worker_loses_its_partitions_and_resumes(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(
        workers_per_role=2,
        SESSION_TIMEOUT_MS=str(SESSION_TIMEOUT_MS),
        HEARTBEAT_INTERVAL_MS="1000",
        MAX_POLL_INTERVAL_MS=str(MAX_POLL_INTERVAL_MS),
    )
    await run.start(fleet)
    scope = await run.scope()
    victim = run.rng.choice([n for n in fleet.names() if fleet.replicas[n].role in WORKER_ROLES])
    role = fleet.replicas[victim].role
    group = f"bakeplan.{role}"
    all_partitions = set(await kafka_state.partitions(run.settings, [STEP_TOPICS[role]]))
    before = await kafka_state.assignments(run.settings, group)
    assert len(before) == 2, f"{group} should be shared by two replicas: {before}"
    assert all(before.values()), f"both replicas of {group} should own partitions: {before}"
    pause_s = run.rng.uniform(15.0, 20.0)  # past max.poll.interval.ms and session.timeout.ms
    pid = fleet.pid(victim)

    async with KafkaWriter(run.settings) as writer:
        load = asyncio.create_task(writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=15))
        await asyncio.sleep(run.rng.uniform(3.0, 5.0))  # the fault schedule: pause while sagas run
        at_pause = await while_running(run.engine, run.tenants)
        fleet.pause(victim)
        paused_at = time.monotonic()
        survivor = await _sole_owner(run.settings, group, all_partitions, timeout_s=pause_s)
        reassigned_after_s = time.monotonic() - paused_at
        await asyncio.sleep(max(0.0, paused_at + pause_s - time.monotonic()))  # the rest of the pause
        at_resume = await saga_statuses(run.engine, run.tenants)
        fleet.resume(victim)
        triggers = await load

    verdict = await verify(scope, triggers, last_fault_at=fleet.last_fault_at, terminal_bound_s=TERMINAL_BOUND_S)
    rejoined = await kafka_state.assignments(run.settings, group)
    run.report(
        verdict,
        faults={
            "paused": victim,
            "pause_s": round(pause_s, 1),
            "partitions_reassigned_after_s": round(reassigned_after_s, 1),
            "sagas_open_at_pause": at_pause["RUNNING"],
            "sagas_completed_during_pause": at_resume["COMPLETED"] - at_pause["COMPLETED"],
        },
    )

    # the fault happened: sagas were in flight, the group moved every partition to the other
    # replica while the victim was stopped, and work went on; the victim came back as the same process
    assert at_pause["RUNNING"] > 0
    assert survivor in before, "the other replica (a member before the pause) should own every partition"
    assert at_resume["COMPLETED"] > at_pause["COMPLETED"], "no saga finished while a replica was paused"
    assert fleet.pid(victim) == pid
    assert fleet.running(victim)
    assert len(rejoined) == 2, f"the resumed replica did not rejoin {group}: {rejoined}"
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


async def _sole_owner(settings: Settings, group: str, partitions: set[object], *, timeout_s: float) -> str:
    """Poll until one member of `group` owns all `partitions`; its member id."""
    deadline = time.monotonic() + timeout_s
    while True:
        members = await kafka_state.assignments(settings, group)
        if len(members) == 1 and set(next(iter(members.values()))) == partitions:
            return next(iter(members))
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{group} did not move the paused replica's partitions in {timeout_s:.0f} s: {members}"
            )
        await asyncio.sleep(0.5)
