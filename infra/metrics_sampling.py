"""The metrics a process samples rather than counts, and its metrics endpoint.

A gauge of state that lives outside the process (an outbox's backlog, a consumer group's lag, the
sagas in flight) is read every `BAKEPLAN_METRICS_SAMPLE_SECONDS` by a background loop, so a scrape
never waits on Postgres or Kafka. A sampler that fails is logged and counted
(`bakeplan_metrics_sample_errors_total`); its gauges keep their last values and the loop goes on.
"""

import asyncio
import errno
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from wsgiref.simple_server import make_server

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.health import Health, QuietHandler, app_with_health
from infra.metrics import Metrics

log = logging.getLogger(__name__)

Sampler = Callable[[], Awaitable[None]]


def serve_metrics(
    port: int, registry: CollectorRegistry, *, addr: str = "0.0.0.0", health: Health | None = None
) -> int | None:
    """Serve `registry` on `port` (0: not at all), with `/healthz` and `/readyz` when `health` is
    given (infra/health.py); returns the port bound. When `port` is taken (two processes of one role
    started by hand with the same settings), a warning names the fix and the endpoint goes to a free
    port chosen by the OS: the process runs on, its metrics stay reachable."""
    if not port:
        return None
    app = app_with_health(registry, health)
    try:
        server = make_server(addr, port, app, ThreadingWSGIServer, handler_class=QuietHandler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        server = make_server(addr, 0, app, ThreadingWSGIServer, handler_class=QuietHandler)
        log.warning(
            "metrics port %d is in use; serving metrics on port %d instead (give each process its own "
            "BAKEPLAN_METRICS_PORT; `serve --role all` does)",
            port,
            server.server_port,
        )
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    bound = int(server.server_port)
    log.info("metrics on port %d", bound)
    return bound


async def outbox_stats(engine: AsyncEngine, outbox: Table) -> tuple[int, float]:
    """(rows waiting, seconds the oldest has waited) of `outbox`; parked rows do not wait."""
    waiting = (outbox.c.published_at.is_(None)) & (outbox.c.parked_at.is_(None))
    query = select(
        func.count(),
        func.coalesce(func.extract("epoch", func.now() - func.min(outbox.c.created_at)), 0.0),
    ).where(waiting)
    async with engine.connect() as conn:
        rows, age = (await conn.execute(query)).one()
    return int(rows), max(0.0, float(age))


def outbox_sampler(engine: AsyncEngine, outbox: Table, metrics: Metrics) -> Sampler:
    name = outbox.schema or outbox.name

    async def sample() -> None:
        rows, age = await outbox_stats(engine, outbox)
        metrics.outbox_backlog.labels(name).set(rows)
        metrics.outbox_oldest_age.labels(name).set(age)

    return sample


@dataclass
class LagProbe:
    """Consumer lag of some groups: each partition's log end offset minus the group's committed
    offset (partitions the group never committed are not reported). Acts as the process's own
    principal, which may describe its own groups and topics."""

    admin: AIOKafkaAdminClient
    offsets: AIOKafkaConsumer
    """A consumer without a group, used only to read log end offsets."""
    _started: bool = field(default=False, init=False)

    async def lag(self, groups: Iterable[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
        """(group, topic, partition, lag) for each (group, topic) pair."""
        if not self._started:
            await self.admin.start()
            await self.offsets.start()
            self._started = True
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group, topic in groups:
            for tp, meta in (await self.admin.list_consumer_group_offsets(group)).items():
                if tp.topic == topic and meta.offset >= 0:
                    committed[(group, tp)] = meta.offset
        if not committed:
            return []
        ends = await self.offsets.end_offsets(list({tp for _, tp in committed}))
        return [(group, tp.topic, tp.partition, max(0, ends[tp] - offset)) for (group, tp), offset in committed.items()]

    async def close(self) -> None:
        # stopped even if never started (metrics off): an unclosed consumer is logged as an ERROR when collected
        await self.offsets.stop()
        if self._started:
            await self.admin.close()


def lag_sampler(probe: LagProbe, groups: list[tuple[str, str]], metrics: Metrics) -> Sampler:
    async def sample() -> None:
        for group, topic, partition, lag in await probe.lag(groups):
            metrics.consumer_lag.labels(group, topic, str(partition)).set(lag)

    return sample


async def sample_forever(samplers: dict[str, Sampler], metrics: Metrics, *, every_seconds: float) -> None:
    """Run each sampler every `every_seconds`, each bounded by that time, until cancelled."""
    while True:
        for name, sample in samplers.items():
            try:
                await asyncio.wait_for(sample(), timeout=max(every_seconds, 5.0))
            except Exception as exc:  # noqa: BLE001 - a sampler must never stop the process or the others
                metrics.sample_errors.labels(name).inc()
                log.warning("metrics sampler %s failed (%r); its gauges keep their last values", name, exc)
        await asyncio.sleep(every_seconds)
