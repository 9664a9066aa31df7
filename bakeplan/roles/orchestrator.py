"""Composition root of the orchestrator process: the saga use cases on the Postgres stores, their
consumers (triggers, step replies, low-stock signals, live master-data feeds, what comes back for
purchase orders), and the loops for deadlines, schedules and low-stock bursts."""

import asyncio
import logging
from datetime import timedelta

from aiokafka.errors import KafkaError

from bakeplan.process import Process, payload_limits
from bakeplan.roles.clock import clock_of
from contracts.envelope import Message
from contracts.topics import Topic
from infra.db import create_engine
from infra.settings import Settings
from orchestrator import audit
from orchestrator.binding import TriggerWindow
from orchestrator.feeds_store import CONSUMER as FEEDS_CONSUMER
from orchestrator.feeds_store import Feeds
from orchestrator.gauges import orchestrator_samplers
from orchestrator.low_stock import LowStock
from orchestrator.observing import SagaObserver
from orchestrator.ports import SagaKind
from orchestrator.purchasing_store import CONSUMER as PURCHASING_CONSUMER
from orchestrator.purchasing_store import Purchasing
from orchestrator.quarantine import PostgresQuarantine
from orchestrator.retention import RetentionJob, RetentionPolicy, run_forever
from orchestrator.saga import daily_plan_definition, low_stock_definition
from orchestrator.scheduler import Pass, scan_forever
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import delivery_attempts, outbox

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Process:
    process = Process(settings, "orchestrator", outbox, delivery_attempts)
    utc_now = clock_of(settings)
    step_timeout = timedelta(seconds=settings.step_timeout_seconds)
    compensation_timeout = timedelta(seconds=settings.compensation_timeout_seconds)
    attempts = settings.max_compensation_attempts
    daily = daily_plan_definition(
        step_timeout=step_timeout, compensation_timeout=compensation_timeout, max_compensation_attempts=attempts
    )
    procurement_only = low_stock_definition(
        step_timeout=step_timeout, compensation_timeout=compensation_timeout, max_compensation_attempts=attempts
    )
    keys = audit.audit_keys(settings)
    if keys.is_dev_key:
        log.warning(
            "BAKEPLAN_AUDIT_KEY is not set: the audit chain is keyed with the development key, which proves nothing"
        )
    metrics = process.metrics
    stores = PostgresStores(
        process.engine,
        dedupe=process.dedupe,
        audit_keys=keys,
        limits=payload_limits(settings),
        on_snapshot=metrics.snapshot_bytes.observe,
    )
    process.samplers.update(orchestrator_samplers(process.engine, utc_now, metrics))
    for kind in SagaKind:  # every series from the start, so a first failure is a rate, not a new series
        for outcome in ("COMPLETED", "COMPENSATED", "FAILED"):
            metrics.saga_seconds.labels(str(kind), outcome)
    observer = SagaObserver(
        saga_finished=lambda kind, outcome, seconds: metrics.saga_seconds.labels(kind, outcome).observe(seconds),
        step_finished=lambda kind, step, outcome, s: metrics.step_seconds.labels(kind, step, outcome).observe(s),
        deferred=metrics.admission_deferrals.inc,
    )
    finished = process.metrics.sagas_finished
    quarantined = process.metrics.quarantined
    quarantine = PostgresQuarantine(
        process.engine,
        threshold=settings.scan_quarantine_failures,
        on_quarantined=lambda scan: quarantined.labels(str(scan)).inc(),
    )

    async def broker_reachable() -> bool:
        """A metadata round trip to any broker, bounded: the deadline scan holds deadlines without it."""
        try:
            await asyncio.wait_for(process.producer.client.fetch_all_metadata(), timeout=5.0)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True

    orchestrator = Orchestrator(
        stores,
        {SagaKind.DAILY: daily, SagaKind.LOW_STOCK: procurement_only},
        utc_now,
        process.relay.wake,
        lambda status: finished.labels(status).inc(),
        crash_points=process.crash_points,
        max_running=settings.max_running_sagas,
        quarantine=quarantine,
        broker_reachable=broker_reachable,
        trigger_window=TriggerWindow(settings.trigger_max_past_days, settings.trigger_max_future_days),
        observer=observer,
    )
    low_stock = LowStock(
        stores,
        procurement_only,
        utc_now,
        process.relay.wake,
        debounce=timedelta(seconds=settings.low_stock_debounce_seconds),
        horizon_days=settings.horizon_days,
        quarantine=quarantine,
    )
    process.subscribe(Topic.LOW_STOCK, "orchestrator-low-stock", low_stock.record)
    process.subscribe(
        Topic.FEEDS, FEEDS_CONSUMER, Feeds(process.engine, utc_now, dedupe=process.dedupe, audit_keys=keys).apply
    )
    purchasing = Purchasing(
        process.engine, utc_now, on_commit=process.relay.wake, dedupe=process.dedupe, audit_keys=keys
    )

    async def purchasing_event(message: Message) -> None:
        await purchasing.apply(message)

    process.subscribe(Topic.PURCHASING_EVENTS, PURCHASING_CONSUMER, purchasing_event)
    process.subscribe(Topic.TRIGGERS, "orchestrator", orchestrator.handle)
    process.subscribe(Topic.STEP_REPLIES, "orchestrator", orchestrator.handle, batch=True)

    async def deadlines() -> None:
        while True:
            try:
                while await orchestrator.tick() > 0:
                    pass
            except Exception:
                log.exception("deadline scan failed; retrying")
            await asyncio.sleep(settings.deadline_scan_seconds)

    def schedule_pass(p: Pass) -> None:
        metrics.schedule_decisions.labels("fired").inc(p.fired)
        metrics.schedule_decisions.labels("skipped").inc(p.recorded - p.fired)
        metrics.schedule_decisions.labels("failed").inc(p.failed)
        metrics.scheduler_last_pass.set_to_current_time()
        if p.fired or p.failed:
            process.relay.wake()

    async def schedules() -> None:
        """Record due schedule decisions and queue their triggers (see orchestrator/scheduler.py)."""
        await scan_forever(
            process.engine,
            utc_now,
            horizon_days=settings.horizon_days,
            max_jitter=timedelta(seconds=settings.schedule_jitter_seconds),
            scan_seconds=settings.schedule_scan_seconds,
            on_pass=schedule_pass,
            quarantine=quarantine,
        )

    async def low_stock_bursts() -> None:
        """Start the procurement-only sagas whose debounce window passed (see orchestrator/low_stock.py)."""
        while True:
            try:
                await low_stock.scan()
            except Exception:
                log.exception("low-stock scan failed; retrying")
            await asyncio.sleep(settings.low_stock_scan_seconds)

    process.background += [deadlines, schedules, low_stock_bursts]
    # not under a simulated clock (`bakeplan world`): rows there carry simulated times, Postgres' own
    # columns (inbox, outbox) the wall clock, and no one horizon fits both
    if settings.retention_interval_seconds > 0 and settings.clock_file is None:
        # its own Postgres role (bakeplan/db_roles.py): the orchestrator's may not delete other schemas' rows
        retention = RetentionJob(
            create_engine(settings.for_role("retention"), pool_size=2), RetentionPolicy.from_settings(settings)
        )

        async def prune() -> None:
            """The retention job, one replica at a time (docs/retention.md)."""
            await run_forever(retention, interval_seconds=settings.retention_interval_seconds)

        process.background.append(prune)
    return process
