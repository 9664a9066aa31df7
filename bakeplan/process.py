"""One bakeplan process: what every role shares (producer, consumer broker, outbox relay, background
loops, start and stop), and `serve(settings, role)`, which builds the role with its composition root
(`bakeplan/roles/`) and runs it until SIGTERM or SIGINT. Nothing connects at import time."""

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Table

from bakeplan.acl_table import Principal, topics_of
from contracts.envelope import Message
from contracts.topics import Topic
from infra import logs, tracing
from infra.crash_points import CrashPoints
from infra.db import create_engine
from infra.health import Health, database_check, flag_check
from infra.messaging.admin import ensure_topics
from infra.messaging.attempts import PostgresDeliveryAttempts
from infra.messaging.claim_check import ClaimChecks
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.messaging.consumer_batch import BatchShell
from infra.messaging.kafka_client import new_admin, new_broker, new_consumer
from infra.messaging.outbox import OutboxRelay, PayloadLimits
from infra.messaging.producer import create_producer
from infra.metrics import Metrics
from infra.metrics_sampling import LagProbe, Sampler, lag_sampler, outbox_sampler, sample_forever, serve_metrics
from infra.settings import Settings

Role = Literal["orchestrator", "forecasting", "production", "procurement", "channels"]
ROLES: tuple[Role, ...] = ("orchestrator", "forecasting", "production", "procurement", "channels")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """One topic a role consumes, in consumer group `bakeplan.{consumer}`."""

    topic: Topic
    consumer: str


@dataclass
class Process:
    """The parts every role has; a composition root adds its subscriptions and background loops."""

    settings: Settings
    role: Role
    outbox: Table
    """The role's own outbox, which its relay publishes."""
    delivery_attempts: Table | None = None
    """The role's own delivery-attempts table (durable attempt counts); None counts in memory."""
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    """What `subscribe` registered, in order: the contract document's receive operations."""
    batch_shells: list[BatchShell] = field(default_factory=list)
    """The batch subscriptions' shells: their counts made ahead are taken back on a clean stop."""
    samplers: dict[str, Sampler] = field(default_factory=dict)
    """Gauges sampled in the background (infra/metrics_sampling.py): the outbox, consumer lag, and
    what the role adds."""

    def __post_init__(self) -> None:
        # its own Postgres role when role URLs are configured (bakeplan/db_roles.py), else DATABASE_URL
        self.settings = self.settings.for_role(self.role)
        settings = self.settings
        # no pre-ping round trip per transaction: a connection Postgres dropped fails its statement,
        # which the consumer retries as unavailable (the pool discards the invalidated connection)
        self.engine = create_engine(settings, pre_ping=False)
        # every client of the process acts as the role's own principal (docs/security.md); FastStream
        # logs its per-message lines at `log_level`: DEBUG, through the process's handler
        self.producer = create_producer(settings, self.role)
        self.broker = new_broker(
            settings,
            self.role,
            client_id=f"bakeplan-{self.role}",
            logger=logs.faststream_logger(),
            log_level=logging.DEBUG,
        )
        self.policy = DeliveryPolicy(
            settings.max_delivery_attempts,
            settings.retry_base_seconds,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            max_message_bytes=settings.max_message_bytes,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            batch_max_records=settings.consumer_batch_records,
            batch_max_ms=settings.consumer_batch_ms,
        )
        self.crash_points = CrashPoints(settings.crash_at, settings.crash_after_hits, settings.crash_log)
        self.dedupe = not settings.unsafe_disable_inbox
        if not self.dedupe:
            log.warning("BAKEPLAN_UNSAFE_DISABLE_INBOX is set: redeliveries are NOT deduplicated (fault tests only)")
        self.metrics = Metrics()
        self.samplers["outbox"] = outbox_sampler(self.engine, self.outbox, self.metrics)
        self.claims = ClaimChecks(self.engine, max_bytes=settings.max_message_bytes)
        self.payload_limits = payload_limits(settings)
        self.relay = OutboxRelay(
            self.engine,
            self.outbox,
            self.producer,
            poll_seconds=settings.relay_poll_seconds,
            on_published=self.metrics.published.labels(self.role).inc,
            on_parked=self.metrics.outbox_parked.labels(self.role).inc,
            batch_bytes=settings.relay_batch_bytes,
            component=self.role,
            producer_factory=lambda: create_producer(settings, self.role),
            topic_prefix=settings.topic_prefix,
            crash_points=self.crash_points,
        )
        self.background += [self.relay.run, lambda: self.relay.listen(settings.asyncpg_dsn)]
        self.consuming = False
        """True while the Kafka consumers run (after `broker.start()`, until shutdown): readiness."""
        self.attempts = (
            PostgresDeliveryAttempts(self.engine, self.delivery_attempts)
            if self.delivery_attempts is not None
            else None
        )

    def health(self, loop: asyncio.AbstractEventLoop) -> Health:
        """`/healthz` and `/readyz` of this process (infra/health.py): ready once its Kafka
        consumers are started and its database answers `SELECT 1`."""
        consumers = flag_check(lambda: self.consuming, "Kafka consumers not started (or stopping)")
        return Health(loop, {"kafka_consumers": consumers, "database": database_check(self.engine)})

    def subscribe(
        self,
        topic: Topic,
        consumer: str,
        handler: Callable[[Message], Coroutine[Any, Any, None]],
        concurrency: int = 1,
        *,
        batch: bool = False,
    ) -> None:
        """Consume `topic` in consumer group `consumer` with the shared delivery policy (`concurrency`:
        Kafka consumers of this process in the group, see `infra.messaging.consumer.subscribe`).
        `batch`: `handler` writes only to this process's database, in `infra.tracing.transaction`s or
        the orchestrator's units of work, so a fetch's records may share one transaction
        (`infra.messaging.consumer_batch`)."""
        self.subscriptions.append(Subscription(topic, consumer))
        shell = subscribe(
            self.broker,
            self.producer,
            topic=self.settings.topic(topic),
            consumer=consumer,
            group=self.settings.group(consumer),
            dead_letter=self.settings.topic(Topic.DEAD_LETTER),
            handler=handler,
            policy=self.policy,
            metrics=self.metrics,
            crash_points=self.crash_points,
            claims=self.claims,
            attempts=self.attempts,
            concurrency=concurrency,
            batch_engine=self.engine if batch else None,
        )
        if shell is not None:
            self.batch_shells.append(shell)

    async def run(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, self.role, topics_of(Principal(self.role)))
        await self.producer.start()
        tasks: list[asyncio.Task[None]] = []
        lag = LagProbe(
            new_admin(self.settings, self.role, client_id=f"bakeplan-{self.role}-metrics"),
            new_consumer(self.settings, self.role, client_id=f"bakeplan-{self.role}-metrics", enable_auto_commit=False),
        )
        groups = sorted({(self.settings.group(s.consumer), self.settings.topic(s.topic)) for s in self.subscriptions})
        samplers = {**self.samplers, "consumer_lag": lag_sampler(lag, groups, self.metrics)}
        every = self.settings.metrics_sample_seconds
        try:
            await self.broker.start()
            self.consuming = True
            tasks = [asyncio.create_task(job()) for job in self.background]
            if self.settings.metrics_port:
                tasks.append(asyncio.create_task(sample_forever(samplers, self.metrics, every_seconds=every)))
            logs.announce(log, "bakeplan %s ready", self.role)  # supervisors and tests wait for this line
            await stop.wait()
        finally:
            self.consuming = False
            await self.broker.stop()
            for shell in self.batch_shells:  # a clean stop leaves no delivery counted that did not begin
                await shell.release()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.relay.close()
            await lag.close()
            await self.producer.stop()
            await self.engine.dispose()


def payload_limits(settings: Settings) -> PayloadLimits:
    """How large an outbox payload may be, and from which size it goes by claim check."""
    return PayloadLimits(max_bytes=settings.max_message_bytes, claim_check_bytes=settings.claim_check_bytes)


def create_app(settings: Settings, role: Role) -> Process:
    """The process of `role`, built by that role's composition root."""
    from bakeplan.roles import channels, orchestrator, worker

    if role == "orchestrator":
        return orchestrator.create_app(settings)
    if role == "channels":
        return channels.create_app(settings)
    return worker.create_app(settings, role)


def serve(settings: Settings, role: Role) -> None:
    """Run one role until SIGTERM or SIGINT."""
    logs.configure(level=settings.log_level, fmt=settings.log_format or "json", role=role)
    traces = tracing.configure(role)
    if traces.exporter != "none":
        log.info("traces exported by %s %s (docs/tracing.md)", traces.exporter, traces.why)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        signalled: list[float] = []

        def on_signal() -> None:
            signalled.append(time.monotonic())
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        app = create_app(settings, role)
        # everything allocated so far lives as long as the process: keep it out of every later
        # collection (measured: full collections over it put 60+ ms pauses into snapshot reads)
        gc.collect()
        gc.freeze()
        serve_metrics(settings.metrics_port, app.metrics.registry, health=app.health(loop))
        await app.run(stop)
        # a supervisor that had to SIGKILL a child can tell from this line whether the close finished
        since = f" {time.monotonic() - signalled[0]:.2f} s after the signal" if signalled else ""
        log.info("bakeplan %s stopped%s", role, since)

    try:
        asyncio.run(main())
    finally:
        tracing.shutdown()
