"""One bakeplan process: `create_app(settings, role)` wires settings → adapters → handlers.

Roles: `orchestrator`, `forecasting`, `production`, `procurement`. Nothing connects at import time.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from prometheus_client import start_http_server

from contracts.topics import Topic
from infra.crash_points import CrashPoints
from infra.db import create_engine
from infra.messaging.admin import ensure_topics
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.messaging.outbox import OutboxRelay
from infra.metrics import Metrics
from infra.settings import Settings
from orchestrator.low_stock import LowStock
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.scheduler import scan_forever
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import outbox as orchestrator_outbox
from workers.forecasting.handler import SPEC as FORECASTING
from workers.procurement.handler import SPEC as PROCUREMENT
from workers.production.handler import SPEC as PRODUCTION
from workers.shell.runtime import StepWorker

Role = Literal["orchestrator", "forecasting", "production", "procurement"]
ROLES: tuple[Role, ...] = ("orchestrator", "forecasting", "production", "procurement")
WORKER_SPECS = {"forecasting": FORECASTING, "production": PRODUCTION, "procurement": PROCUREMENT}

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_producer(settings: Settings) -> AIOKafkaProducer:
    """Idempotent producer with acks=all; compression (zstd unless BAKEPLAN_KAFKA_COMPRESSION says
    otherwise) keeps large snapshots under the broker's 1 MiB limit (the client-side size check is on
    uncompressed bytes, so it is raised; the broker still checks the compressed batch against its own
    limit)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="bakeplan",
        enable_idempotence=True,
        acks="all",
        compression_type=None if settings.kafka_compression == "none" else settings.kafka_compression,
        linger_ms=2,
        max_request_size=16 * 1024 * 1024,
    )


class App:
    def __init__(self, settings: Settings, role: Role) -> None:
        self.settings = settings
        self.role = role
        # no pre-ping round trip per transaction: a connection Postgres dropped fails its statement,
        # which the consumer retries as unavailable (the pool discards the invalidated connection)
        self.engine = create_engine(settings, pre_ping=False)
        self.producer = create_producer(settings)
        self.broker = KafkaBroker(settings.kafka_bootstrap, client_id=f"bakeplan-{role}", log_level=logging.WARNING)
        policy = DeliveryPolicy(
            settings.max_delivery_attempts,
            settings.retry_base_seconds,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            max_message_bytes=settings.max_message_bytes,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        crash_points = CrashPoints(settings.crash_at, settings.crash_after_hits, settings.crash_log)
        dedupe = not settings.unsafe_disable_inbox
        if not dedupe:
            log.warning("BAKEPLAN_UNSAFE_DISABLE_INBOX is set: redeliveries are NOT deduplicated (fault tests only)")
        self.metrics = metrics = Metrics()
        published = metrics.published.labels(role).inc
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        if role == "orchestrator":
            relay = OutboxRelay(
                self.engine,
                orchestrator_outbox,
                self.producer,
                poll_seconds=settings.relay_poll_seconds,
                on_published=published,
                crash_points=crash_points,
            )
            step_timeout = timedelta(seconds=settings.step_timeout_seconds)
            compensation_timeout = timedelta(seconds=settings.compensation_timeout_seconds)
            definition = daily_plan_definition(
                step_timeout=step_timeout,
                compensation_timeout=compensation_timeout,
                max_compensation_attempts=settings.max_compensation_attempts,
            )
            procurement_only = low_stock_definition(
                step_timeout=step_timeout,
                compensation_timeout=compensation_timeout,
                max_compensation_attempts=settings.max_compensation_attempts,
            )
            stores = PostgresStores(self.engine, dedupe=dedupe)
            self.orchestrator = Orchestrator(
                stores,
                {SagaKind.DAILY: definition, SagaKind.LOW_STOCK: procurement_only},
                utc_now,
                relay.wake,
                lambda status: metrics.sagas_finished.labels(status).inc(),
                crash_points=crash_points,
                max_running=settings.max_running_sagas,
            )
            self.low_stock = LowStock(
                stores,
                procurement_only,
                utc_now,
                relay.wake,
                debounce=timedelta(seconds=settings.low_stock_debounce_seconds),
                horizon_days=settings.horizon_days,
            )
            subscribe(
                self.broker,
                self.producer,
                topic=Topic.LOW_STOCK,
                consumer="orchestrator-low-stock",
                handler=self.low_stock.record,
                policy=policy,
                metrics=metrics,
                crash_points=crash_points,
            )
            for topic in (Topic.TRIGGERS, Topic.STEP_REPLIES):
                subscribe(
                    self.broker,
                    self.producer,
                    topic=topic,
                    consumer="orchestrator",
                    handler=self.orchestrator.handle,
                    policy=policy,
                    metrics=metrics,
                    crash_points=crash_points,
                )
            self._relay = relay
            self._background += [relay.run, self._deadlines, self._schedules, self._low_stock]
        else:
            spec = WORKER_SPECS[role]
            relay = OutboxRelay(
                self.engine,
                spec.outbox,
                self.producer,
                poll_seconds=settings.relay_poll_seconds,
                on_published=published,
                crash_points=crash_points,
            )
            worker = StepWorker(spec, engine=self.engine, clock=utc_now, on_commit=relay.wake, dedupe=dedupe)
            subscribe(
                self.broker,
                self.producer,
                topic=spec.commands_topic,
                consumer=role,
                handler=worker.handle,
                policy=policy,
                metrics=metrics,
                crash_points=crash_points,
            )
            subscribe(
                self.broker,
                self.producer,
                topic=Topic.PLANS,
                consumer=f"{role}-plans",
                handler=worker.handle,
                policy=policy,
                metrics=metrics,
                crash_points=crash_points,
            )
            self._background.append(relay.run)
        self._background.append(lambda: relay.listen(settings.asyncpg_dsn))

    async def _deadlines(self) -> None:
        while True:
            try:
                while await self.orchestrator.tick() > 0:
                    pass
            except Exception:
                log.exception("deadline scan failed; retrying")
            await asyncio.sleep(self.settings.deadline_scan_seconds)

    async def _schedules(self) -> None:
        """Record due schedule decisions and queue their triggers (see orchestrator/scheduler.py)."""
        await scan_forever(
            self.engine,
            utc_now,
            horizon_days=self.settings.horizon_days,
            max_jitter=timedelta(seconds=self.settings.schedule_jitter_seconds),
            scan_seconds=self.settings.schedule_scan_seconds,
            on_pass=lambda p: self._relay.wake() if p.fired else None,
        )

    async def _low_stock(self) -> None:
        """Start the procurement-only sagas whose debounce window passed (see orchestrator/low_stock.py)."""
        while True:
            try:
                await self.low_stock.scan()
            except Exception:
                log.exception("low-stock scan failed; retrying")
            await asyncio.sleep(self.settings.low_stock_scan_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings)
        await self.producer.start()
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.broker.start()
            tasks = [asyncio.create_task(job()) for job in self._background]
            log.info("bakeplan %s ready", self.role)
            print(f"bakeplan {self.role} ready", flush=True)
            await stop.wait()
        finally:
            await self.broker.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.producer.stop()
            await self.engine.dispose()


def create_app(settings: Settings, role: Role) -> App:
    return App(settings, role)


def serve(settings: Settings, role: Role) -> None:
    """Run one role until SIGTERM or SIGINT."""
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {role} %(levelname)s %(name)s: %(message)s")
    for noisy in ("aiokafka", "faststream"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        app = create_app(settings, role)
        # everything allocated so far lives as long as the process: keep it out of every later
        # collection (measured: full collections over it put 60+ ms pauses into snapshot reads)
        gc.collect()
        gc.freeze()
        if settings.metrics_port:
            start_http_server(settings.metrics_port, registry=app.metrics.registry)
        await app.run(stop)

    asyncio.run(main())
