"""Worker replicas SIGKILLed every few seconds while 200 sagas run, each restarted at once."""

import asyncio
import signal
import time

import pytest

from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import WORKER_ROLES, Fleet
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.waits import open_sagas

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 10  # 200 sagas
LOAD_SPREAD_S = 25.0
FAULT_WINDOW_S = 60.0
TERMINAL_BOUND_S = 90.0


async def test_worker_replicas_killed_every_few_seconds(run: FaultRun) -> None:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2, **QUICK_FAILOVER)
    await run.start(fleet)
    scope = await run.scope()
    requests = daily_requests(run.tenants, days=DAYS, rng=run.rng)

    async with KafkaWriter(run.settings) as writer:
        load = asyncio.create_task(writer.triggers(requests, over_s=LOAD_SPREAD_S))
        kills, busy_kills, last_kill = await _kill_workers_until_done(run, fleet, load)
        triggers = load.result()

    verdict = await verify(scope, triggers, last_fault_at=last_kill, terminal_bound_s=TERMINAL_BOUND_S)
    run.report(verdict, faults={"worker_sigkills": kills, "sigkills_with_sagas_in_flight": busy_kills})

    # the fault happened: replicas of every worker were killed while sagas were in flight
    killed_roles = {fleet.replicas[f.replica].role for f in fleet.faults_of("SIGKILL")}
    assert kills >= 8, f"only {kills} kills"
    assert killed_roles == set(WORKER_ROLES)
    assert busy_kills >= 5
    assert all(fleet.replicas[n].starts >= 1 and fleet.running(n) for n in fleet.names())
    assert verdict.figures["sagas"] == TENANTS * DAYS
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


async def _kill_workers_until_done(run: FaultRun, fleet: Fleet, load: asyncio.Task[object]) -> tuple[int, int, float]:
    """Every 2–5 s (seeded) SIGKILL a random running worker replica and restart it in the background,
    until the load is published and every saga has finished, or the fault window closes."""
    workers = [n for n in fleet.names() if fleet.replicas[n].role in WORKER_ROLES]
    restarts: list[asyncio.Task[int]] = []
    kills = busy_kills = 0
    last_kill = time.monotonic()
    window_ends = time.monotonic() + FAULT_WINDOW_S
    while time.monotonic() < window_ends:
        await asyncio.sleep(run.rng.uniform(2.0, 5.0))  # the fault schedule, not a wait for a condition
        in_flight = await open_sagas(run.engine, run.tenants)
        if load.done() and in_flight == 0:
            break
        candidates = [n for n in workers if fleet.running(n) and not fleet.replicas[n].lock.locked()]
        if not candidates:
            continue
        victim = run.rng.choice(candidates)
        restarts.append(asyncio.create_task(fleet.restart(victim, sig=signal.SIGKILL)))
        kills += 1
        busy_kills += in_flight > 0
        last_kill = time.monotonic()
    await asyncio.gather(*restarts)
    await load
    return kills, busy_kills, last_kill
