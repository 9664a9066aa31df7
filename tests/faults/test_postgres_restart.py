"""Postgres is killed in mid-run with SIGKILL — the postmaster and every backend at once, nothing
flushed, crash recovery on start — on the suite's private server, which runs as production does
(fsync=on, full_page_writes=on, synchronous_commit=on; `BAKEPLAN_PG_DURABLE=1` in
deploy/local/postgres.sh), so the session's shared one stays up. Handlers, relays and the deadline
scan lose their connections mid-transaction; every process must retry until the database is back,
lose no commit Postgres acknowledged and park nothing."""

import asyncio
import time
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.private_stack import PrivateStack
from tests.faults.waits import while_running

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 3
TERMINAL_BOUND_S = 120.0
DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


async def test_postgres_sigkilled_mid_run_with_fsync_on(private_run: FaultRun, private_stack: PrivateStack) -> None:
    run = private_run
    # the fault is only meaningful on a server that flushes as production does
    assert await _settings(run) == DURABLE
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2)
    await run.start(fleet)
    scope = await run.scope()
    pids = {name: fleet.pid(name) for name in fleet.names()}
    started_before = await _postmaster_start(run)

    async with KafkaWriter(run.settings) as writer:
        load = asyncio.create_task(writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=15))
        await asyncio.sleep(run.rng.uniform(4.0, 7.0))  # the fault schedule: kill while sagas run
        at_kill = await while_running(run.engine, run.tenants)
        old_pid, new_pid = await private_stack.kill_postgres()
        restarted_at = time.monotonic()
        triggers = await load

    verdict = await verify(scope, triggers, last_fault_at=restarted_at, terminal_bound_s=TERMINAL_BOUND_S)
    started_after = await _postmaster_start(run)
    run.report(
        verdict,
        faults={
            "postgres_sigkills": 1,
            "processes_killed": private_stack.last_kill_count,
            "sagas_open_at_kill": at_kill["RUNNING"],
        },
    )

    # the fault happened: the whole server was killed while sagas were in flight and a new one came up
    assert new_pid != old_pid
    assert started_after > started_before
    assert private_stack.last_kill_count > 1  # backends too, not only the postmaster
    assert at_kill["RUNNING"] > 0
    assert await _settings(run) == DURABLE
    # no bakeplan process crashed or had to be restarted
    assert {name: fleet.pid(name) for name in fleet.names() if fleet.running(name)} == pids
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


async def _postmaster_start(run: FaultRun) -> datetime:
    async with run.engine.connect() as conn:
        started: datetime = (await conn.execute(text("SELECT pg_postmaster_start_time()"))).scalar_one()
        return started


async def _settings(run: FaultRun) -> dict[str, str]:
    async with run.engine.connect() as conn:
        return {name: str((await conn.execute(text(f"SHOW {name}"))).scalar_one()) for name in DURABLE}
