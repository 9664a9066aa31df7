"""`bakeplan serve --role all` supervises its children, started as an operator starts it: a child killed
with SIGKILL is back and planning within seconds; a child that keeps crashing is given up on, and the
parent stops the others and exits 1; SIGTERM stops them all cleanly."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from tests.e2e.support import eventually, seed, trigger, trigger_window_env, wait_terminal

pytestmark = pytest.mark.e2e
ROLES = ("orchestrator", "forecasting", "production", "procurement", "channels")


def serve_all(log: Path, database_url: str, kafka: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BAKEPLAN_KAFKA_BOOTSTRAP": kafka,
        "BAKEPLAN_RELAY_POLL_SECONDS": "0.2",
        "BAKEPLAN_LOG_LEVEL": "INFO",
        **trigger_window_env(),
        **env,
    }
    environment.pop("BAKEPLAN_DATABASE_URL", None)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bakeplan", "serve", "--role", "all"], env=environment, stdout=out, stderr=out
        )


def pids(log: Path, name: str) -> list[int]:
    """Every pid the supervisor started as `name` (e.g. forecasting-1), in order."""
    return [int(pid) for pid in re.findall(rf"started {name} \(pid (\d+)\b", log.read_text())]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def parent_stopper() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Whatever the test leaves running is stopped (SIGTERM, then SIGKILL)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


async def test_a_child_killed_with_sigkill_is_restarted_and_plans_again(
    settings: Settings, engine: AsyncEngine, tmp_path: Path, parent_stopper: list[subprocess.Popen[bytes]]
) -> None:
    log = tmp_path / "serve.log"
    parent = serve_all(log, settings.database_url, settings.kafka_bootstrap)
    parent_stopper.append(parent)

    async def all_ready() -> bool | None:
        assert parent.poll() is None, log.read_text()[-3000:]
        return True if all(f"bakeplan {r} ready" in log.read_text() for r in ROLES) else None

    await eventually(all_ready, timeout_s=90, what="every role ready")
    [victim] = pids(log, "forecasting-1")

    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    async def serving_again() -> int | None:
        assert parent.poll() is None, log.read_text()[-3000:]
        restarted = pids(log, "forecasting-1")[1:]
        # the line each child logs once it consumes (a JSON object: `serve` logs JSON unless told otherwise)
        ready = re.findall(r'"message":"bakeplan forecasting ready"', log.read_text())
        return restarted[0] if restarted and len(ready) == 2 else None

    successor = await eventually(serving_again, timeout_s=60, what="a new forecasting child ready")
    ready_s = time.monotonic() - killed_at
    tenant = f"sup{uuid.uuid4().hex[:8]}"
    await seed(engine, tenant)
    saga = await wait_terminal(engine, await trigger(settings, tenant), timeout_s=90)
    planned_s = time.monotonic() - killed_at
    print(
        f"SIGKILL of forecasting (pid {victim}) → successor pid {successor} ready {ready_s:.2f} s after the kill; "
        f"a plan completed {planned_s:.2f} s after the kill"
    )

    assert saga["status"] == "COMPLETED", saga
    assert not alive(victim)
    assert f"forecasting-1 (pid {victim}) was killed by signal 9; restarting in 1.0 s" in log.read_text()
    assert ready_s < 30, f"serving again took {ready_s:.2f} s after the kill (a plan: {planned_s:.2f} s)"

    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert not any(alive(pid) for role in ROLES for pid in pids(log, f"{role}-1")), log.read_text()[-3000:]


def test_children_that_keep_crashing_are_given_up_on_and_the_parent_exits_1(
    tmp_path: Path, parent_stopper: list[subprocess.Popen[bytes]]
) -> None:
    """Kafka at a closed port: every child fails at start, over and over (the shared servers are untouched)."""
    log = tmp_path / "serve.log"
    parent = serve_all(
        log,
        "postgresql+asyncpg://bakeplan@127.0.0.1:9/bakeplan",
        "127.0.0.1:9",
        BAKEPLAN_SUPERVISE_BACKOFF_SECONDS="0.1",
        BAKEPLAN_SUPERVISE_MAX_RESTARTS="2",
    )
    parent_stopper.append(parent)

    # three rounds of five children each failing at start: measured ~125 s on 2 cores under a load
    # average of 17 (each round waits for the slowest child's imports), so the bound leaves room
    code = parent.wait(timeout=300)
    said = log.read_text()

    assert code == 1, said[-3000:]
    assert re.search(r"\w+-1 \(pid \d+\) exited with 1: crash 3 within 300 s .*giving up", said), said[-3000:]
    assert "restarting in 0.1 s (crash 1 of at most 2" in said
    assert "restarting in 0.2 s (crash 2 of at most 2" in said
    assert not any(alive(pid) for role in ROLES for pid in pids(log, f"{role}-1")), said[-3000:]
