"""On a local 3-broker KRaft cluster (replication factor 3, min.insync.replicas=2): the broker that
leads most partitions of the busy topics is SIGKILLed in mid-run; then the whole cluster is killed for
longer than a step deadline. Long (a cluster of three JVMs on a shared machine): `make faults-cluster`
runs it, `make test` deselects it (tests/conftest.py, `--cluster`); figures in docs/resilience.md."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.tables import saga_log, sagas
from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun, RunFactory
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.private_cluster import BROKERS, PrivateCluster, busiest_leader, min_insync_replicas, partition_leaders
from tests.faults.waits import saga_statuses, while_running

pytestmark = [pytest.mark.faults, pytest.mark.cluster]

TENANTS = 20
DAYS = 3
TERMINAL_BOUND_S = 120.0
BUSY = (
    Topic.TRIGGERS,
    Topic.FORECASTING_COMMANDS,
    Topic.PRODUCTION_COMMANDS,
    Topic.PROCUREMENT_COMMANDS,
    Topic.STEP_REPLIES,
)
STEP_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateCluster]:
    stack = PrivateCluster(Path(tmp_path_factory.mktemp("cluster")))
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def cluster_run(new_run: RunFactory, settings: Settings, cluster: PrivateCluster) -> FaultRun:
    """A FaultRun on the cluster and the session's Postgres (a database of the test run's own)."""
    return await new_run(cluster.settings(settings))


async def test_partition_leader_sigkilled_mid_run(cluster_run: FaultRun, cluster: PrivateCluster) -> None:
    run = cluster_run
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2, **QUICK_FAILOVER)
    await run.start(fleet)
    scope = await run.scope()
    pids = {name: fleet.pid(name) for name in fleet.names()}

    # the production default where the cluster has three brokers
    leaders = await partition_leaders(run.settings, tuple(Topic))
    assert {len(p["replicas"]) for p in leaders.values()} == {BROKERS}
    assert set((await min_insync_replicas(run.settings, tuple(Topic))).values()) == {"2"}

    async with KafkaWriter(run.settings) as writer:
        load = asyncio.create_task(writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=15))
        await asyncio.sleep(run.rng.uniform(3.0, 6.0))  # the fault schedule: kill while sagas run
        at_kill = await while_running(run.engine, run.tenants)
        busy = await partition_leaders(run.settings, BUSY)
        victim = busiest_leader(busy)
        led = sum(p["leader"] == victim for p in busy.values())
        await cluster.kill(victim)
        killed_at = time.monotonic()
        triggers = await load
        after = await partition_leaders(run.settings, BUSY)

    verdict = await verify(scope, triggers, last_fault_at=killed_at, terminal_bound_s=TERMINAL_BOUND_S)
    run.report(
        verdict,
        faults={"leader_sigkills": 1, "partitions_led_by_victim": led, "sagas_open_at_kill": at_kill["RUNNING"]},
    )

    # the fault happened: the leader of busy partitions died while sagas ran, and others took them over
    assert led > 0
    assert at_kill["RUNNING"] > 0
    assert all(p["leader"] != victim for p in after.values())
    assert all(victim not in p["isr"] for p in after.values())
    # no bakeplan process crashed or had to be restarted
    assert {name: fleet.pid(name) for name in fleet.names() if fleet.running(name)} == pids
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()
    await cluster.start()  # the victim back, for the next test


async def test_cluster_down_longer_than_a_step_deadline(cluster_run: FaultRun, cluster: PrivateCluster) -> None:
    """Deadlines are held while no broker answers (docs/resilience.md): a saga whose step deadline
    passes during the outage completes once the cluster is back; it is not compensated."""
    run = cluster_run
    await cluster.start()  # every node up (a failed test before may have left one down)
    await run.seed_tenants(TENANTS // 2)
    fleet = run.fleet(workers_per_role=1, STEP_TIMEOUT_SECONDS=str(STEP_DEADLINE_S), **QUICK_FAILOVER)
    await run.start(fleet)
    scope = await run.scope()

    async with KafkaWriter(run.settings) as writer:
        triggers = await writer.triggers(daily_requests(run.tenants, days=1, rng=run.rng))
    # every saga started and some still stepping: each one is live at the kill or already done
    at_kill = await _all_started(run, len(triggers))
    await cluster.kill_all()
    killed_at = time.monotonic()
    await asyncio.sleep(2.5 * STEP_DEADLINE_S)  # the fault itself: the cluster stays away past the deadline
    await cluster.start()
    down_s = time.monotonic() - killed_at
    back_at = time.monotonic()

    verdict = await verify(scope, triggers, last_fault_at=back_at, terminal_bound_s=TERMINAL_BOUND_S)
    held = await _held(run)
    run.report(
        verdict,
        faults={"cluster_sigkills": 1, "down_s": round(down_s, 1), "sagas_open_at_kill": at_kill["RUNNING"]},
        sagas_with_deadlines_held=held,
    )

    assert at_kill["RUNNING"] > 0
    assert down_s > 2 * STEP_DEADLINE_S
    assert 0 < held <= at_kill["RUNNING"]  # the sagas in flight had their deadlines moved
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS // 2}  # none compensated
    verdict.assert_clean()


async def _all_started(run: FaultRun, n: int, timeout_s: float = 120.0) -> Counter[str]:
    """The statuses once `n` sagas of the run exist, at least one of them still RUNNING."""
    deadline = time.monotonic() + timeout_s
    while sum((statuses := await saga_statuses(run.engine, run.tenants)).values()) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} sagas did not all start within {timeout_s} s: {dict(statuses)}")
        await asyncio.sleep(0.05)
    assert statuses["RUNNING"] > 0, f"every saga finished before the fault: {dict(statuses)}; use more tenants"
    return statuses


async def _held(run: FaultRun) -> int:
    async with run.engine.connect() as conn:
        query = (
            select(func.count(func.distinct(saga_log.c.saga_id)))
            .select_from(saga_log.join(sagas, sagas.c.saga_id == saga_log.c.saga_id))
            .where(saga_log.c.kind == "deadlines_held", sagas.c.tenant_id.in_(run.tenants))
        )
        return int((await conn.execute(query)).scalar_one())
