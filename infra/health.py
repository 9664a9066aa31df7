"""Liveness and readiness of a process, served on its metrics port next to `/metrics`.

`/healthz` (liveness) answers 200 when the process's event loop runs a no-op within the timeout: a
wedged loop is the one failure a restart cures. `/readyz` (readiness) runs every check on the loop,
each bounded by the timeout, and answers 200 when all pass, else 503 with `{"status": "unready",
"reasons": {check: why}}`. The endpoint runs in prometheus-client's own HTTP server thread, so a
probe never waits behind a handler and needs no web framework in the worker processes.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client import CollectorRegistry, make_wsgi_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

Check = Callable[[], Awaitable[str | None]]
"""One readiness check: None when ready, else the reason it is not."""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Health:
    loop: asyncio.AbstractEventLoop
    checks: dict[str, Check] = field(default_factory=dict)
    timeout_seconds: float = 2.0

    def live(self) -> tuple[int, dict[str, Any]]:
        """(status, body) of `/healthz`; call from another thread than the loop's."""
        try:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result(self.timeout_seconds)
        except Exception as exc:  # noqa: BLE001 (a closed, stopped or wedged loop all mean "restart me")
            why = f"event loop did not answer within {self.timeout_seconds}s ({exc!r})"
            return 503, {"status": "dead", "reason": why}
        return 200, {"status": "live"}

    def ready(self) -> tuple[int, dict[str, Any]]:
        """(status, body) of `/readyz`; call from another thread than the loop's."""
        try:
            future = asyncio.run_coroutine_threadsafe(self._reasons(), self.loop)
            reasons = future.result(self.timeout_seconds + 1.0)
        except Exception as exc:  # noqa: BLE001 (any failure to answer is the reason reported)
            reasons = {"event_loop": f"did not answer within {self.timeout_seconds + 1.0}s ({exc!r})"}
        if reasons:
            return 503, {"status": "unready", "reasons": reasons}
        return 200, {"status": "ready", "checks": sorted(self.checks)}

    async def _reasons(self) -> dict[str, str]:
        results = await asyncio.gather(*(self._run(check) for check in self.checks.values()))
        return {name: reason for name, reason in zip(self.checks, results, strict=True) if reason is not None}

    async def _run(self, check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), self.timeout_seconds)
        except TimeoutError:
            return f"no answer within {self.timeout_seconds}s"
        except Exception as exc:  # noqa: BLE001 (the reason the probe reports, e.g. connection refused)
            return f"{type(exc).__name__}: {exc}"


def database_check(engine: AsyncEngine) -> Check:
    """Ready when the database answers `SELECT 1`."""

    async def check() -> str | None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None

    return check


def flag_check(is_set: Callable[[], bool], reason: str) -> Check:
    """Ready while `is_set()` holds, else `reason` (e.g. the Kafka consumers are not started)."""

    async def check() -> str | None:
        return None if is_set() else reason

    return check


def app_with_health(registry: CollectorRegistry, health: Health | None) -> WsgiApp:
    """`/metrics` (and every other path, as prometheus-client serves it), plus `/healthz` and
    `/readyz` when `health` is given."""
    metrics: WsgiApp = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if health is None or path not in ("/healthz", "/readyz"):
            return metrics(environ, start_response)
        status, body = health.live() if path == "/healthz" else health.ready()
        phrase = "OK" if status == 200 else "Service Unavailable"
        start_response(f"{status} {phrase}", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


class QuietHandler(WSGIRequestHandler):
    """No access log line per probe or scrape."""

    def log_message(self, format: str, *args: Any) -> None:
        return
