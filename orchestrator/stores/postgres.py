"""The orchestrator's ports on Postgres: one unit of work is one transaction on one connection."""

import functools
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from uuid import UUID

import orjson
from sqlalchemy import bindparam, false, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.messages import LowStockObserved
from contracts.planning import PlanningSnapshot
from infra import tracing
from infra.messaging import batch_tx
from infra.messaging import inbox as inbox_store
from infra.messaging import outbox as outbox_store
from infra.messaging.codec import decode, encode
from infra.messaging.outbox import DEFAULT_LIMITS, Outgoing, PayloadLimits
from orchestrator import audit, masterdata, snapshot_reader
from orchestrator.engine import SagaStatus
from orchestrator.engine.core import SagaState
from orchestrator.engine.serialization import state_from_dict, state_to_dict
from orchestrator.low_stock_rules import Signal
from orchestrator.ports import (
    DAY_TAKEN_STATUSES,
    LIVE_STATUSES,
    Inbound,
    SagaKind,
    SagaRecord,
    StepReply,
    TenantProfile,
    TimelineLine,
    UnitOfWork,
)
from orchestrator.stores.snapshot_store import PostgresSnapshots
from orchestrator.tables import effect_log, inbox, low_stock_signals, outbox, saga_log, sagas, step_results

CONSUMER = "orchestrator"
"""The orchestrator's name in the inbox and effect log."""


def _uuid(value: UUID) -> UUID:
    # asyncpg returns its own UUID subclass, which the message encoder cannot serialize
    return UUID(bytes=value.bytes)


def _reply(payload: bytes) -> StepReply:
    message = decode(payload)
    assert isinstance(message, StepReply), f"step_results holds step replies, not {message.event_type}"
    return message


# The statements of a saga's every step, built once with their values bound at each call: building a
# statement and its cache key cost more than running it (tests/integration/test_built_once.py)
_DAY_PLAN = select(sagas.c.saga_id, sagas.c.status).where(
    sagas.c.tenant_id == bindparam("b_tenant_id"),
    sagas.c.business_date == bindparam("b_business_date"),
    sagas.c.kind == SagaKind.DAILY,
    sagas.c.status.in_(DAY_TAKEN_STATUSES),
)
_ADD = pg_insert(sagas).on_conflict_do_nothing().returning(sagas.c.saga_id)
"""The unique partial index on live low-stock sagas: a second one of the tenant waits, then adds nothing."""
_LOCK = select(sagas).where(sagas.c.saga_id == bindparam("b_saga_id")).with_for_update()
_SAVE_STATE = update(sagas).where(sagas.c.saga_id == bindparam("b_saga_id"))
_COUNT_LIVE = select(func.count()).select_from(sagas).where(sagas.c.status.in_(LIVE_STATUSES))
_ADD_RESULT = pg_insert(step_results).on_conflict_do_nothing()
_RESULTS = select(step_results.c.step, step_results.c.payload).where(
    step_results.c.saga_id == bindparam("b_saga_id"), step_results.c.step.in_(bindparam("b_steps", expanding=True))
)


_TENANT = masterdata.tenants.c.tenant_id == bindparam("b_tenant_id")
_TIME_ZONE = select(masterdata.tenants.c.timezone).where(_TENANT)
_TENANT_PROFILE = select(masterdata.tenants.c.name, masterdata.tenants.c.timezone, masterdata.tenants.c.currency).where(
    _TENANT
)


class PostgresSagas:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def day_plan(self, tenant_id: str, business_date: date) -> tuple[UUID, SagaStatus] | None:
        row = (
            await self._conn.execute(_DAY_PLAN, {"b_tenant_id": tenant_id, "b_business_date": business_date})
        ).first()
        return None if row is None else (_uuid(row.saga_id), SagaStatus(row.status))

    async def add(self, saga: SagaRecord, *, at: datetime) -> bool:
        row = {
            "saga_id": saga.saga_id,
            "tenant_id": saga.tenant_id,
            "business_date": saga.business_date,
            "kind": saga.kind,
            "status": saga.state.status.value,
            "state": state_to_dict(saga.state),
            "reason": saga.state.reason,
            "trigger_event_id": saga.trigger_event_id,
            "snapshot_sha256": saga.snapshot_sha256,
            "next_deadline": saga.state.next_deadline,
            "created_at": at,
            "updated_at": at,
        }
        inserted = (await self._conn.execute(_ADD, row)).first()
        return inserted is not None

    async def lock(self, saga_id: UUID) -> SagaRecord | None:
        row = (await self._conn.execute(_LOCK, {"b_saga_id": saga_id})).first()
        if row is None:
            return None
        return SagaRecord(
            saga_id=saga_id,
            tenant_id=row.tenant_id,
            business_date=row.business_date,
            kind=SagaKind(row.kind),
            state=state_from_dict(row.state),
            trigger_event_id=_uuid(row.trigger_event_id),
            snapshot_sha256=row.snapshot_sha256,
        )

    async def save_state(
        self, saga_id: UUID, state: SagaState, *, at: datetime, snapshot_sha256: str | None = None
    ) -> None:
        attached = {} if snapshot_sha256 is None else {"snapshot_sha256": snapshot_sha256}
        values = {
            "b_saga_id": saga_id,
            "status": state.status.value,
            "state": state_to_dict(state),
            "reason": state.reason,
            "next_deadline": state.next_deadline,
            "updated_at": at,
            **attached,
        }
        await self._conn.execute(_SAVE_STATE, values)

    async def count_live(self) -> int:
        return int((await self._conn.execute(_COUNT_LIVE)).scalar_one())

    async def due(self, now: datetime, *, limit: int) -> list[UUID]:
        rows = await self._conn.execute(
            select(sagas.c.saga_id)
            .where(sagas.c.status.in_(LIVE_STATUSES), sagas.c.next_deadline <= now)
            .order_by(sagas.c.next_deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_uuid(saga_id) for saga_id in rows.scalars()]

    async def tenant_of(self, saga_id: UUID) -> str | None:
        found = await self._conn.execute(select(sagas.c.tenant_id).where(sagas.c.saga_id == saga_id))
        return found.scalar_one_or_none()

    async def live_low_stock_tenants(self, tenant_ids: Collection[str]) -> set[str]:
        rows = await self._conn.execute(
            select(sagas.c.tenant_id).where(
                sagas.c.kind == SagaKind.LOW_STOCK,
                sagas.c.status.in_(LIVE_STATUSES),
                sagas.c.tenant_id.in_(list(tenant_ids)),
            )
        )
        return set(rows.scalars())

    async def log(self, saga_id: UUID, lines: Sequence[TimelineLine], *, at: datetime) -> None:
        # inside a consumer batch, every record's lines go in one statement at its commit
        rows = [{"saga_id": saga_id, "at": at, "kind": x.kind, "step": x.step, "detail": x.detail} for x in lines]
        await batch_tx.insert_rows(self._conn, saga_log, rows)

    async def log_effect(
        self, kind: str, *, event_id: UUID, saga_id: UUID, tenant_id: str, step: str | None, at: datetime
    ) -> None:
        row = {
            "consumer": CONSUMER,
            "kind": kind,
            "event_id": event_id,
            "saga_id": saga_id,
            "tenant_id": tenant_id,
            "step": step,
            "at": at,
        }
        await batch_tx.insert_rows(self._conn, effect_log, [row])

    async def add_result(self, saga_id: UUID, reply: StepReply, *, payload: bytes | None = None) -> None:
        row = {"saga_id": saga_id, "step": reply.step, "event_id": reply.event_id, "payload": payload or encode(reply)}
        await self._conn.execute(_ADD_RESULT, row)

    async def results(self, saga_id: UUID, steps: Collection[str]) -> list[StepReply]:
        if not steps:
            return []
        rows = await self._conn.execute(_RESULTS, {"b_saga_id": saga_id, "b_steps": list(steps)})
        return [_reply(payload) for _, payload in rows.all()]

    async def result_lengths(self, saga_id: UUID, fields: Mapping[str, str]) -> dict[str, int]:
        if not fields:
            return {}
        rows = await self._conn.execute(_RESULTS, {"b_saga_id": saga_id, "b_steps": list(fields)})
        # parsed, not validated: each payload was validated when its reply arrived (a standard tenant's
        # production and procurement replies took the orchestrator ~6 % of its CPU in a burst to validate
        # again for the three counts of its `PlanReady`)
        return {step: len(orjson.loads(payload)[fields[step]]) for step, payload in rows.all()}

    async def completed_results(
        self, tenant_id: str, step: str, *, daily_on: date | None, low_stock_since: date | None
    ) -> list[StepReply]:
        daily = false() if daily_on is None else (sagas.c.kind == SagaKind.DAILY) & (sagas.c.business_date == daily_on)
        low_stock = (
            false()
            if low_stock_since is None
            else (sagas.c.kind == SagaKind.LOW_STOCK) & (sagas.c.business_date >= low_stock_since)
        )
        rows = await self._conn.execute(
            select(step_results.c.payload)
            .join(sagas, sagas.c.saga_id == step_results.c.saga_id)
            .where(
                sagas.c.tenant_id == tenant_id,
                sagas.c.status == SagaStatus.COMPLETED,
                step_results.c.step == step,
                daily | low_stock,
            )
            .order_by(sagas.c.created_at, sagas.c.saga_id)
        )
        return [_reply(payload) for payload in rows.scalars()]


class PostgresMasterData:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def tenant_exists(self, tenant_id: str) -> bool:
        return await masterdata.tenant_exists(self._conn, tenant_id)

    async def ingredient_exists(self, tenant_id: str, ingredient_id: str) -> bool:
        found = await self._conn.execute(
            select(masterdata.ingredients.c.ingredient_id).where(
                masterdata.ingredients.c.tenant_id == tenant_id,
                masterdata.ingredients.c.ingredient_id == ingredient_id,
            )
        )
        return found.first() is not None

    async def time_zone(self, tenant_id: str) -> str:
        return str((await self._conn.execute(_TIME_ZONE, {"b_tenant_id": tenant_id})).scalar_one())

    async def tenant_profile(self, tenant_id: str) -> TenantProfile:
        row = (await self._conn.execute(_TENANT_PROFILE, {"b_tenant_id": tenant_id})).one()
        return TenantProfile(name=row.name, time_zone=row.timezone, currency=row.currency)

    async def snapshot(self, tenant_id: str, *, business_date: date, horizon_days: int) -> PlanningSnapshot:
        return await snapshot_reader.read_snapshot(
            self._conn, tenant_id, business_date=business_date, horizon_days=horizon_days
        )


class PostgresInbox:
    def __init__(self, conn: AsyncConnection, *, dedupe: bool) -> None:
        self._conn = conn
        self._dedupe = dedupe

    async def claim(self, event_id: UUID, *, tenant_id: str = "", digest: str | None = None) -> bool:
        claimed = await inbox_store.claim(
            self._conn, inbox, consumer=CONSUMER, event_id=event_id, tenant_id=tenant_id, digest=digest
        )
        return claimed or not self._dedupe


class PostgresOutbox:
    def __init__(self, conn: AsyncConnection, *, limits: PayloadLimits = DEFAULT_LIMITS) -> None:
        self._conn = conn
        self._limits = limits

    async def add(self, outgoing: Sequence[Outgoing]) -> None:
        await outbox_store.add(self._conn, outbox, outgoing, limits=self._limits)


class PostgresAudit:
    def __init__(self, conn: AsyncConnection, keys: audit.AuditKeys) -> None:
        self._conn = conn
        self._keys = keys

    async def record(self, *, inbound: Inbound | None = None, outgoing: Sequence[Outgoing] = (), at: datetime) -> None:
        await audit.record(self._conn, inbound=inbound, outgoing=outgoing, at=at, keys=self._keys)

    async def lock_chain(self, tenant_id: str) -> None:
        await audit.lock_chain(self._conn, tenant_id)


class PostgresSignals:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, signal: LowStockObserved, *, received_at: datetime) -> None:
        await self._conn.execute(
            pg_insert(low_stock_signals)
            .values(
                event_id=signal.event_id,
                tenant_id=signal.tenant_id,
                ingredient_id=signal.ingredient_id,
                quantity_on_hand=signal.quantity_on_hand,
                threshold=signal.threshold,
                observed_at=signal.observed_at,
                received_at=received_at,
            )
            .on_conflict_do_nothing()
        )

    async def oldest_pending(self) -> dict[str, datetime]:
        rows = await self._conn.execute(
            select(low_stock_signals.c.tenant_id, func.min(low_stock_signals.c.received_at).label("oldest"))
            .where(low_stock_signals.c.saga_id.is_(None))
            .group_by(low_stock_signals.c.tenant_id)
        )
        return {row.tenant_id: row.oldest for row in rows}

    async def lock_pending(self, tenant_id: str) -> list[Signal]:
        rows = await self._conn.execute(
            select(low_stock_signals)
            .where(low_stock_signals.c.tenant_id == tenant_id, low_stock_signals.c.saga_id.is_(None))
            .order_by(low_stock_signals.c.received_at)
            .with_for_update(skip_locked=True)
        )
        return [
            Signal(_uuid(r.event_id), r.ingredient_id, r.quantity_on_hand, r.threshold, r.observed_at, r.received_at)
            for r in rows
        ]

    async def assign(self, event_ids: Collection[UUID], saga_id: UUID) -> None:
        await self._conn.execute(
            update(low_stock_signals).where(low_stock_signals.c.event_id.in_(list(event_ids))).values(saga_id=saga_id)
        )


class PostgresUnitOfWork:
    def __init__(
        self,
        conn: AsyncConnection,
        *,
        dedupe: bool,
        audit_keys: audit.AuditKeys = audit.DEV_AUDIT_KEYS,
        limits: PayloadLimits = DEFAULT_LIMITS,
    ) -> None:
        self.sagas = PostgresSagas(conn)
        self.snapshots = PostgresSnapshots(conn)
        self.masterdata = PostgresMasterData(conn)
        self.inbox = PostgresInbox(conn, dedupe=dedupe)
        self.outbox = PostgresOutbox(conn, limits=limits)
        self.audit = PostgresAudit(conn, audit_keys)
        self.signals = PostgresSignals(conn)


class PostgresStores:
    """The unit-of-work factory on one engine. `dedupe=False` is the fault suite's mutation switch:
    the inbox claims everything, so redeliveries are handled again. `audit_keys` key the audit chain
    (the development key unless the composition root passes the configured one)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        dedupe: bool = True,
        audit_keys: audit.AuditKeys = audit.DEV_AUDIT_KEYS,
        limits: PayloadLimits = DEFAULT_LIMITS,
        on_snapshot: Callable[[int], None] = lambda size_bytes: None,
    ) -> None:
        """`limits`: how large an outbox payload may be, and from which size it goes by claim check.
        `on_snapshot(size_bytes)` hears each snapshot recorded, after its transaction committed."""
        self._on_snapshot = on_snapshot
        self._engine = engine
        self._dedupe = dedupe
        self._audit_keys = audit_keys
        self._limits = limits

    @asynccontextmanager
    async def __call__(self, *, consistent_reads: bool = False) -> AsyncIterator[UnitOfWork]:
        with tracing.span("transaction orchestrator"):
            async with batch_tx.transaction(self._engine, repeatable_read=consistent_reads) as conn:
                uow = PostgresUnitOfWork(conn, dedupe=self._dedupe, audit_keys=self._audit_keys, limits=self._limits)
                yield uow
        for size_bytes in uow.snapshots.added_bytes:
            batch_tx.when_committed(functools.partial(self._on_snapshot, size_bytes))
