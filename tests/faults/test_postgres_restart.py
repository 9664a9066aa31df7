"""Postgres is restarted in mid-run in `immediate` mode (no checkpoint, every connection dropped,
crash recovery on start) — the suite's private server, so the session's shared one stays up.
Handlers, relays and the deadline scan lose their connections mid-transaction; every process must
retry until the database is back and park nothing."""

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


async def test_postgres_restarted_mid_run(private_run: FaultRun, private_stack: PrivateStack) -> None:
    run = private_run
    await _durable_commits(run)
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2)
    await run.start(fleet)
    scope = await run.scope()
    pids = {name: fleet.pid(name) for name in fleet.names()}
    started_before = await _postmaster_start(run)

    async with KafkaWriter(run.settings) as writer:
        load = asyncio.create_task(writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=15))
        await asyncio.sleep(run.rng.uniform(4.0, 7.0))  # the fault schedule: restart while sagas run
        at_restart = await while_running(run.engine, run.tenants)
        old_pid, new_pid = await private_stack.restart_postgres_immediate()
        restarted_at = time.monotonic()
        triggers = await load

    verdict = await verify(scope, triggers, last_fault_at=restarted_at, terminal_bound_s=TERMINAL_BOUND_S)
    started_after = await _postmaster_start(run)
    run.report(verdict, faults={"postgres_immediate_restarts": 1, "sagas_open_at_restart": at_restart["RUNNING"]})

    # the fault happened: a new postmaster came up while sagas were in flight
    assert new_pid != old_pid
    assert started_after > started_before
    assert at_restart["RUNNING"] > 0
    # no bakeplan process crashed or had to be restarted
    assert {name: fleet.pid(name) for name in fleet.names() if fleet.running(name)} == pids
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


async def _postmaster_start(run: FaultRun) -> datetime:
    async with run.engine.connect() as conn:
        started: datetime = (await conn.execute(text("SELECT pg_postmaster_start_time()"))).scalar_one()
        return started


async def _durable_commits(run: FaultRun) -> None:
    """deploy/local/postgres.sh starts the server with synchronous_commit=off (fast, fine for a
    developer): a crash then loses the last few hundred ms of acknowledged commits, which no
    production database accepts and which this test would report as lost events. A database-level
    setting overrides the command line for every new session."""
    async with run.engine.connect() as conn:
        await conn.execute(text("ALTER DATABASE bakeplan SET synchronous_commit = on"))
        await conn.commit()
    await run.engine.dispose()  # new sessions pick the setting up
