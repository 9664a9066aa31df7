"""Low-stock signals and the procurement-only sagas they start (docs/low_stock.md).

`record` handles one `LowStockObserved`: claim the inbox, check tenant and ingredient, store the signal
as pending. `scan` (a loop in the orchestrator process) starts ONE procurement-only saga per tenant
for all its pending signals once the oldest is older than the debounce window and no procurement-only
saga of the tenant is running. Replicas never start two: the pending signals are locked with
`FOR UPDATE SKIP LOCKED`, the saga and trigger ids derive from the signals, and a unique partial
index allows one running low-stock saga per tenant (a loser's insert does nothing; its signals stay
pending for the next saga).

The saga's one step is procurement; its `PlanProcurement` is built here, from a fresh snapshot
adjusted by `low_stock_rules.low_stock_inputs`, and the adjusted snapshot is what the saga records.
Replies, deadlines and compensation then run through `Orchestrator` like any saga.
"""

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Message
from contracts.errors import PermanentError
from contracts.ids import low_stock_trigger_id, saga_id_for_trigger
from contracts.messages import LowStockObserved, PlanProcurement, ProcurementPlanned, ProductionScheduled, SnapshotTaken
from contracts.planning import IngredientRequirement
from contracts.topics import Topic
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.codec import decode
from infra.messaging.outbox import Outgoing
from orchestrator import audit, masterdata, snapshot_reader
from orchestrator.engine import RunStep, SagaDefinition, StartSaga, decide, new_saga
from orchestrator.engine.serialization import state_to_dict
from orchestrator.low_stock_rules import (
    RECORDED_LINES_LOOKBACK_DAYS,
    LowStockInputs,
    PendingTenant,
    Signal,
    due_tenants,
    low_stock_inputs,
)
from orchestrator.service import CONSUMER, record_decision
from orchestrator.tables import effect_log, inbox, low_stock_signals, outbox, sagas, snapshots, step_results

log = logging.getLogger(__name__)

LIVE = ("RUNNING", "COMPENSATING")


class LowStock:
    def __init__(
        self,
        engine: AsyncEngine,
        definition: SagaDefinition,
        clock: Callable[[], datetime],
        on_commit: Callable[[], None],
        *,
        debounce: timedelta,
        horizon_days: int,
        dedupe: bool = True,
    ) -> None:
        """`definition` is the procurement-only saga's; `on_commit` wakes the outbox relay."""
        self._engine = engine
        self._definition = definition
        self._clock = clock
        self._on_commit = on_commit
        self._debounce = debounce
        self._horizon_days = horizon_days
        self._dedupe = dedupe

    async def record(self, message: Message) -> None:
        """Store one low-stock signal as pending. Raises `PermanentError` (the message is parked) for
        an unknown tenant or ingredient."""
        if not isinstance(message, LowStockObserved):
            raise PermanentError(
                f"the low-stock consumer does not handle {message.event_type} (tenant {message.tenant_id})"
            )
        async with self._engine.begin() as conn:
            claimed = await inbox_store.claim(conn, inbox, consumer=CONSUMER, event_id=message.event_id)
            if not claimed and self._dedupe:
                return
            if not await masterdata.tenant_exists(conn, message.tenant_id):
                raise PermanentError(
                    f"low-stock event {message.event_id}: unknown tenant {message.tenant_id!r}; "
                    "seed it (`bakeplan seed`) or fix the tenant id"
                )
            known = (
                await conn.execute(
                    select(masterdata.ingredients.c.ingredient_id).where(
                        masterdata.ingredients.c.tenant_id == message.tenant_id,
                        masterdata.ingredients.c.ingredient_id == message.ingredient_id,
                    )
                )
            ).first()
            if known is None:
                raise PermanentError(
                    f"low-stock event {message.event_id} of tenant {message.tenant_id}: unknown ingredient "
                    f"{message.ingredient_id!r}; add it to the tenant's master data or fix ingredient_id"
                )
            await conn.execute(
                pg_insert(low_stock_signals)
                .values(
                    event_id=message.event_id,
                    tenant_id=message.tenant_id,
                    ingredient_id=message.ingredient_id,
                    quantity_on_hand=message.quantity_on_hand,
                    threshold=message.threshold,
                    observed_at=message.observed_at,
                    received_at=self._clock(),
                )
                .on_conflict_do_nothing()
            )
            await audit.record(conn, inbound=audit.Inbound(message, Topic.LOW_STOCK, None), at=self._clock())

    async def scan(self, *, limit: int = 100) -> int:
        """Start the procurement-only sagas that are due; returns how many this call started."""
        now = self._clock()
        async with self._engine.connect() as conn:
            oldest = (
                await conn.execute(
                    select(low_stock_signals.c.tenant_id, func.min(low_stock_signals.c.received_at))
                    .where(low_stock_signals.c.saga_id.is_(None))
                    .group_by(low_stock_signals.c.tenant_id)
                )
            ).all()
            if not oldest:
                return 0
            running = set(
                (
                    await conn.execute(
                        select(sagas.c.tenant_id).where(
                            sagas.c.kind == "low_stock",
                            sagas.c.status.in_(LIVE),
                            sagas.c.tenant_id.in_([row[0] for row in oldest]),
                        )
                    )
                )
                .scalars()
                .all()
            )
        pending = [PendingTenant(tenant, received, tenant in running) for tenant, received in oldest]
        started = 0
        for tenant_id in due_tenants(pending, now=now, window=self._debounce)[:limit]:
            try:
                started += await self._start(tenant_id, now)
            except PermanentError:
                log.exception("tenant %s: procurement-only saga not started; its signals stay pending", tenant_id)
        if started:
            self._on_commit()
        return started

    async def _start(self, tenant_id: str, now: datetime) -> bool:
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(low_stock_signals)
                    .where(low_stock_signals.c.tenant_id == tenant_id, low_stock_signals.c.saga_id.is_(None))
                    .order_by(low_stock_signals.c.received_at)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # another replica holds them, or started a saga for them since the scan read them
            if not rows or now - rows[0].received_at < self._debounce:
                return False
            signals = [
                Signal(
                    UUID(bytes=r.event_id.bytes),
                    r.ingredient_id,
                    r.quantity_on_hand,
                    r.threshold,
                    r.observed_at,
                    r.received_at,
                )
                for r in rows
            ]
            trigger_id = low_stock_trigger_id(tenant_id, (s.event_id for s in signals))
            saga_id = saga_id_for_trigger(trigger_id)
            time_zone = (
                await conn.execute(
                    select(masterdata.tenants.c.timezone).where(masterdata.tenants.c.tenant_id == tenant_id)
                )
            ).scalar_one()
            local = now.astimezone(ZoneInfo(time_zone))
            business_date = local.date()
            decision = decide(self._definition, new_saga(self._definition), StartSaga(now))
            inserted = (
                await conn.execute(
                    pg_insert(sagas)
                    .values(
                        saga_id=saga_id,
                        tenant_id=tenant_id,
                        business_date=business_date,
                        kind="low_stock",
                        status=decision.state.status.value,
                        state=state_to_dict(decision.state),
                        reason="",
                        trigger_event_id=trigger_id,
                        snapshot_sha256="",
                        next_deadline=decision.state.next_deadline,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_nothing()  # a low-stock saga of this tenant is running: wait for the next
                    .returning(sagas.c.saga_id)
                )
            ).first()
            if inserted is None:
                return False
            snapshot = await snapshot_reader.read_snapshot(
                conn, tenant_id, business_date=business_date, horizon_days=self._horizon_days
            )
            inputs = low_stock_inputs(
                snapshot,
                signals,
                requirements=await _daily_requirements(conn, tenant_id, business_date),
                recorded=await _recorded_lines(conn, tenant_id, business_date),
                local_time=local.time(),
            )
            body = orjson.dumps(inputs.snapshot.model_dump())
            sha = hashlib.sha256(body).hexdigest()
            await conn.execute(
                pg_insert(snapshots)
                .values(sha256=sha, tenant_id=tenant_id, size_bytes=len(body), body=body)
                .on_conflict_do_nothing()
            )
            await conn.execute(update(sagas).where(sagas.c.saga_id == saga_id).values(snapshot_sha256=sha))
            await conn.execute(
                update(low_stock_signals)
                .where(low_stock_signals.c.event_id.in_([s.event_id for s in signals]))
                .values(saga_id=saga_id)
            )
            ingredients = ", ".join(f.ingredient_id for f in inputs.stock_floors)
            started = (
                f"by {len(signals)} low-stock signal(s) for {ingredients}; snapshot {sha[:12]} ({len(body)} bytes)"
            )
            await conn.execute(
                insert(effect_log).values(
                    consumer=CONSUMER,
                    kind="saga_started",
                    event_id=trigger_id,
                    saga_id=saga_id,
                    tenant_id=tenant_id,
                    at=now,
                )
            )
            await record_decision(conn, saga_id, decision, now, first=[("started", None, started)])
            outgoing = _messages(saga_id, trigger_id, inputs, decision.commands, sha, now)
            await audit.record(conn, outgoing=outgoing, at=now)
            await outbox_store.add(conn, outbox, outgoing)
        log.info("tenant %s: procurement-only saga %s started for %d signal(s)", tenant_id, saga_id, len(signals))
        return True


def _messages(
    saga_id: UUID, trigger_id: UUID, inputs: LowStockInputs, commands: Sequence[Any], sha: str, now: datetime
) -> list[Outgoing]:
    s = inputs.snapshot
    env: dict[str, Any] = {
        "tenant_id": s.tenant_id,
        "saga_id": saga_id,
        "causation_id": trigger_id,
        "correlation_id": saga_id,
        "occurred_at": now,
    }
    out = [
        Outgoing(
            Topic.SNAPSHOTS, SnapshotTaken(event_id=uuid5(saga_id, "snapshot"), snapshot=s, content_sha256=sha, **env)
        )
    ]
    for command in commands:
        assert isinstance(command, RunStep), "a low-stock saga's start runs its one step"
        out.append(
            Outgoing(
                Topic.PROCUREMENT_COMMANDS,
                PlanProcurement(
                    event_id=uuid5(saga_id, "run:procurement:1"),
                    business_date=s.business_date,
                    ingredients=s.ingredients,
                    stock_lots=s.stock_lots,
                    suppliers=s.suppliers,
                    requirements=inputs.requirements,
                    open_purchase_orders=s.open_purchase_orders,
                    policy=s.policy,
                    calendar=s.calendar,
                    purpose="low_stock",
                    stock_floors=inputs.stock_floors,
                    **env,
                ),
            )
        )
    return out


async def _daily_requirements(
    conn: AsyncConnection, tenant_id: str, business_date: Any
) -> tuple[IngredientRequirement, ...]:
    """The requirements of the tenant's completed daily plan for `business_date`; none without one."""
    payload = (
        await conn.execute(
            select(step_results.c.payload)
            .join(sagas, sagas.c.saga_id == step_results.c.saga_id)
            .where(
                sagas.c.tenant_id == tenant_id,
                sagas.c.business_date == business_date,
                sagas.c.kind == "daily",
                sagas.c.status == "COMPLETED",
                step_results.c.step == "production",
            )
        )
    ).scalar()
    if payload is None:
        return ()
    message = decode(payload)
    assert isinstance(message, ProductionScheduled), "the production step records ProductionScheduled"
    return message.requirements


async def _recorded_lines(conn: AsyncConnection, tenant_id: str, business_date: Any) -> list[ProcurementPlanned]:
    """The recorded procurement results of the tenant's completed sagas whose lines may still be open:
    today's daily plan and the low-stock sagas of the last `RECORDED_LINES_LOOKBACK_DAYS` days."""
    payloads = (
        (
            await conn.execute(
                select(step_results.c.payload)
                .join(sagas, sagas.c.saga_id == step_results.c.saga_id)
                .where(
                    sagas.c.tenant_id == tenant_id,
                    sagas.c.status == "COMPLETED",
                    step_results.c.step == "procurement",
                    (
                        (sagas.c.kind == "daily") & (sagas.c.business_date == business_date)
                        | (sagas.c.kind == "low_stock")
                        & (sagas.c.business_date >= business_date - timedelta(days=RECORDED_LINES_LOOKBACK_DAYS))
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    recorded = [decode(payload) for payload in payloads]
    return [message for message in recorded if isinstance(message, ProcurementPlanned)]
