"""`/healthz` and `/readyz` on a process's metrics port (infra/health.py), against real Postgres and
a real unreachable port: 200 when every check passes, 503 naming the failing check and why."""

import asyncio
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from infra.health import Health, database_check, flag_check
from infra.metrics import Metrics
from infra.metrics_sampling import serve_metrics

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def _probe(health: Health, path: str) -> tuple[int, Any]:
    port = serve_metrics(1, Metrics().registry, addr="127.0.0.1", health=health)  # port 1 is taken: a free one
    assert port is not None
    status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{path}")
    return status, (body if path == "/metrics" else json.loads(body))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


async def test_ready_and_live_when_the_database_answers_and_consumers_run(engine: AsyncEngine) -> None:
    health = Health(
        asyncio.get_running_loop(),
        {"kafka_consumers": flag_check(lambda: True, "x"), "database": database_check(engine)},
    )
    assert await _probe(health, "/readyz") == (200, {"status": "ready", "checks": ["database", "kafka_consumers"]})
    assert await _probe(health, "/healthz") == (200, {"status": "live"})
    status, metrics = await _probe(health, "/metrics")
    assert status == 200
    assert b"bakeplan_" in metrics


async def test_unready_with_the_reason_when_the_database_is_unreachable() -> None:
    dead = create_async_engine(f"postgresql+asyncpg://bakeplan@127.0.0.1:{_closed_port()}/bakeplan")
    try:
        health = Health(asyncio.get_running_loop(), {"database": database_check(dead)}, timeout_seconds=3.0)
        status, body = await _probe(health, "/readyz")
        assert status == 503
        assert body["status"] == "unready"
        assert list(body["reasons"]) == ["database"]
        assert "refused" in body["reasons"]["database"].lower() or "connect" in body["reasons"]["database"].lower()
        assert await _probe(health, "/healthz") == (200, {"status": "live"})  # alive: a restart would not help
    finally:
        await dead.dispose()


async def test_unready_while_the_consumers_are_not_started(engine: AsyncEngine) -> None:
    checks = {
        "kafka_consumers": flag_check(lambda: False, "Kafka consumers not started"),
        "database": database_check(engine),
    }
    status, body = await _probe(Health(asyncio.get_running_loop(), checks), "/readyz")
    assert (status, body) == (503, {"status": "unready", "reasons": {"kafka_consumers": "Kafka consumers not started"}})


async def test_a_check_that_hangs_is_reported_after_the_timeout() -> None:
    async def hang() -> str | None:
        await asyncio.sleep(60)
        return None

    status, body = await _probe(Health(asyncio.get_running_loop(), {"slow": hang}, timeout_seconds=0.3), "/readyz")
    assert (status, body) == (503, {"status": "unready", "reasons": {"slow": "no answer within 0.3s"}})
