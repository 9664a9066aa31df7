"""The Kafka broker is SIGKILLed in mid-run and started again on the same data (the suite's
private broker, so the session's shared one stays up). Every process must ride it out — reconnect,
rejoin its group, publish what its outbox still holds — without losing or doubling anything."""

import asyncio
import time

import pytest

from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.private_stack import PrivateStack
from tests.faults.waits import while_running

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 3
TERMINAL_BOUND_S = 120.0


async def test_broker_killed_and_restarted_mid_run(private_run: FaultRun, private_stack: PrivateStack) -> None:
    run = private_run
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2)
    await run.start(fleet)
    scope = await run.scope()
    pids = {name: fleet.pid(name) for name in fleet.names()}
    requests = daily_requests(run.tenants, days=DAYS, rng=run.rng)
    before, after = requests[: len(requests) // 2], requests[len(requests) // 2 :]

    async with KafkaWriter(run.settings) as writer:
        # at once, and the kill as soon as sagas run: spread over seconds, small sagas (~0.1 s each)
        # would all be done before the broker went down
        triggers = await writer.triggers(before)
    await asyncio.sleep(run.rng.uniform(0.0, 0.3))  # the fault schedule: kill while sagas run
    at_kill = await while_running(run.engine, run.tenants)
    old_pid = await private_stack.kill_kafka()
    killed_at = time.monotonic()
    await asyncio.sleep(run.rng.uniform(3.0, 8.0))  # the broker stays down for a while
    new_pid = await private_stack.start_kafka()
    down_s = time.monotonic() - killed_at
    restarted_at = time.monotonic()
    async with KafkaWriter(run.settings) as writer:
        triggers += await writer.triggers(after, over_s=5)

    verdict = await verify(scope, triggers, last_fault_at=restarted_at, terminal_bound_s=TERMINAL_BOUND_S)
    run.report(
        verdict,
        faults={"broker_sigkills": 1, "broker_down_s": round(down_s, 1), "sagas_open_at_kill": at_kill["RUNNING"]},
    )

    # the fault happened: a different broker process came up while sagas were in flight
    assert new_pid != old_pid
    assert at_kill["RUNNING"] > 0
    # no bakeplan process crashed or had to be restarted
    assert {name: fleet.pid(name) for name in fleet.names() if fleet.running(name)} == pids
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()
