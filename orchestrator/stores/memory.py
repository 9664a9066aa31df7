"""The orchestrator's ports in memory: a fake for fast use-case tests, held to the Postgres adapter by
the same contract suite (`tests/contract/`).

Units of work run one at a time (a lock), which is what row locks and REPEATABLE READ give one saga
in Postgres. A unit of work that raises leaves nothing behind: the stores are copied when it begins
and put back when it fails. Records are immutable and no store changes a collection nested in another
in place (a timeline gets a new list), so shallow copies suffice.
"""

import asyncio
import copy
import hashlib
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from uuid import UUID

import orjson

from contracts.envelope import Message
from contracts.errors import PlanningError
from contracts.messages import LowStockObserved
from contracts.planning import PlanningSnapshot
from infra.messaging.inbox import conflict as inbox_conflict
from infra.messaging.outbox import Outgoing
from orchestrator.engine import SagaState, SagaStatus
from orchestrator.low_stock_rules import Signal
from orchestrator.ports import (
    DAY_TAKEN_STATUSES,
    LIVE_STATUSES,
    Inbound,
    SagaKind,
    SagaRecord,
    StepReply,
    StoredSnapshot,
    TenantProfile,
    TimelineLine,
    UnitOfWork,
)


@dataclass(frozen=True)
class Effect:
    kind: str
    event_id: UUID
    saga_id: UUID
    tenant_id: str
    step: str | None
    at: datetime


@dataclass(frozen=True)
class Archived:
    """One message in the fake audit archive, in the order recorded."""

    message: Message
    saga_id: UUID | None
    direction: str
    topic: str


@dataclass
class _State:
    sagas: dict[UUID, SagaRecord] = field(default_factory=dict)
    created: dict[UUID, datetime] = field(default_factory=dict)
    timeline: dict[UUID, list[TimelineLine]] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)
    results: dict[tuple[UUID, str], StepReply] = field(default_factory=dict)
    snapshots: dict[str, PlanningSnapshot] = field(default_factory=dict)
    claimed: set[UUID] = field(default_factory=set)
    claim_digests: dict[tuple[UUID, str], str | None] = field(default_factory=dict)
    outbox: list[Outgoing] = field(default_factory=list)
    published_ids: set[UUID] = field(default_factory=set)
    archive: list[Archived] = field(default_factory=list)
    archived_ids: set[UUID] = field(default_factory=set)
    signals: dict[UUID, tuple[str, Signal, UUID | None]] = field(default_factory=dict)

    def copied(self) -> "_State":
        return _State(**{name: copy.copy(value) for name, value in vars(self).items()})


class MemorySagas:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def day_plan(self, tenant_id: str, business_date: date) -> tuple[UUID, SagaStatus] | None:
        for saga in self._s.sagas.values():
            if (saga.tenant_id, saga.business_date, saga.kind) == (
                tenant_id,
                business_date,
                SagaKind.DAILY,
            ) and saga.state.status in DAY_TAKEN_STATUSES:
                return saga.saga_id, saga.state.status
        return None

    async def add(self, saga: SagaRecord, *, at: datetime) -> bool:
        if any(_same_key(saga, other) for other in self._s.sagas.values()):
            return False
        self._s.sagas[saga.saga_id] = saga
        self._s.created[saga.saga_id] = at
        return True

    async def lock(self, saga_id: UUID) -> SagaRecord | None:
        return self._s.sagas.get(saga_id)

    async def save_state(
        self, saga_id: UUID, state: SagaState, *, at: datetime, snapshot_sha256: str | None = None
    ) -> None:
        saga = self._s.sagas[saga_id]
        self._s.sagas[saga_id] = replace(saga, state=state, snapshot_sha256=snapshot_sha256 or saga.snapshot_sha256)

    async def count_live(self) -> int:
        return sum(saga.state.status in LIVE_STATUSES for saga in self._s.sagas.values())

    async def due(self, now: datetime, *, limit: int) -> list[UUID]:
        due = [
            (deadline, saga.saga_id)
            for saga in self._s.sagas.values()
            if saga.state.status in LIVE_STATUSES
            and (deadline := saga.state.next_deadline) is not None
            and deadline <= now
        ]
        return [saga_id for _, saga_id in sorted(due)[:limit]]

    async def tenant_of(self, saga_id: UUID) -> str | None:
        saga = self._s.sagas.get(saga_id)
        return None if saga is None else saga.tenant_id

    async def live_low_stock_tenants(self, tenant_ids: Collection[str]) -> set[str]:
        return {
            saga.tenant_id
            for saga in self._s.sagas.values()
            if saga.kind is SagaKind.LOW_STOCK and saga.state.status in LIVE_STATUSES and saga.tenant_id in tenant_ids
        }

    async def log(self, saga_id: UUID, lines: Sequence[TimelineLine], *, at: datetime) -> None:
        # a new list, not the old one extended: a rolled-back unit of work's copy shares the old list
        self._s.timeline[saga_id] = [*self._s.timeline.get(saga_id, ()), *lines]

    async def log_effect(
        self, kind: str, *, event_id: UUID, saga_id: UUID, tenant_id: str, step: str | None, at: datetime
    ) -> None:
        self._s.effects.append(Effect(kind, event_id, saga_id, tenant_id, step, at))

    async def add_result(self, saga_id: UUID, reply: StepReply, *, payload: bytes | None = None) -> None:
        self._s.results.setdefault((saga_id, reply.step), reply)

    async def results(self, saga_id: UUID, steps: Collection[str]) -> list[StepReply]:
        return [self._s.results[(saga_id, step)] for step in steps if (saga_id, step) in self._s.results]

    async def result_lengths(self, saga_id: UUID, fields: Mapping[str, str]) -> dict[str, int]:
        kept = {step: self._s.results.get((saga_id, step)) for step in fields}
        return {step: len(getattr(reply, fields[step])) for step, reply in kept.items() if reply is not None}

    async def completed_results(
        self, tenant_id: str, step: str, *, daily_on: date | None, low_stock_since: date | None
    ) -> list[StepReply]:
        def wanted(saga: SagaRecord) -> bool:
            if saga.tenant_id != tenant_id or saga.state.status is not SagaStatus.COMPLETED:
                return False
            if saga.kind is SagaKind.DAILY:
                return daily_on is not None and saga.business_date == daily_on
            return low_stock_since is not None and saga.business_date >= low_stock_since

        sagas = sorted(
            (s for s in self._s.sagas.values() if wanted(s)), key=lambda s: (self._s.created[s.saga_id], s.saga_id)
        )
        return [self._s.results[(s.saga_id, step)] for s in sagas if (s.saga_id, step) in self._s.results]


def _same_key(new: SagaRecord, old: SagaRecord) -> bool:
    """Whether `old` holds a key `new` needs, as the Postgres table's keys have it: the saga id, the
    trigger id, one day-taking daily saga per tenant and date, one live low-stock saga per tenant."""
    if new.saga_id == old.saga_id or new.trigger_event_id == old.trigger_event_id:
        return True
    if (new.tenant_id, new.kind) != (old.tenant_id, old.kind):
        return False
    if new.kind is SagaKind.DAILY:
        taken = DAY_TAKEN_STATUSES
        return new.business_date == old.business_date and new.state.status in taken and old.state.status in taken
    return new.state.status in LIVE_STATUSES and old.state.status in LIVE_STATUSES


class MemorySnapshots:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def add(self, snapshot: PlanningSnapshot) -> StoredSnapshot:
        body = orjson.dumps(snapshot.model_dump())
        sha = hashlib.sha256(body).hexdigest()
        self._s.snapshots.setdefault(sha, snapshot)
        return StoredSnapshot(sha, len(body))

    async def get(self, sha256: str) -> PlanningSnapshot:
        return self._s.snapshots[sha256]


class MemoryMasterData:
    """Master data is given, not written: `MemoryStores(tenants=...)` holds one snapshot per tenant,
    served for any business date and horizon asked (re-dated to them). A tenant's name defaults to its
    id, its time zone to UTC, its currency to EUR (the Postgres column's default)."""

    def __init__(self, tenants: dict[str, PlanningSnapshot], time_zones: dict[str, str], names: dict[str, str]) -> None:
        self._tenants = tenants
        self._time_zones = time_zones
        self._names = names

    async def tenant_exists(self, tenant_id: str) -> bool:
        return tenant_id in self._tenants

    async def ingredient_exists(self, tenant_id: str, ingredient_id: str) -> bool:
        tenant = self._tenants.get(tenant_id)
        return tenant is not None and any(i.ingredient_id == ingredient_id for i in tenant.ingredients)

    async def time_zone(self, tenant_id: str) -> str:
        return self._time_zones.get(tenant_id, "UTC")

    async def tenant_profile(self, tenant_id: str) -> TenantProfile:
        if tenant_id not in self._tenants:
            raise KeyError(tenant_id)  # what the Postgres adapter's `.one()` raises, in kind
        return TenantProfile(
            name=self._names.get(tenant_id, tenant_id), time_zone=await self.time_zone(tenant_id), currency="EUR"
        )

    async def snapshot(self, tenant_id: str, *, business_date: date, horizon_days: int) -> PlanningSnapshot:
        base = self._tenants.get(tenant_id)
        if base is None:  # what the Postgres snapshot reader raises
            raise PlanningError(
                f"unknown tenant {tenant_id!r}: create it with `bakeplan seed` or your master-data import"
            )
        return base.model_copy(update={"business_date": business_date, "horizon_days": horizon_days})


class MemoryInbox:
    def __init__(self, state: _State, *, dedupe: bool) -> None:
        self._s = state
        self._dedupe = dedupe

    async def claim(self, event_id: UUID, *, tenant_id: str = "", digest: str | None = None) -> bool:
        key = (event_id, tenant_id)
        first = key not in self._s.claim_digests
        if not first:
            earlier = self._s.claim_digests[key]
            if digest is not None and earlier is not None and earlier != digest:
                raise inbox_conflict("orchestrator", event_id, tenant_id)
        else:
            self._s.claim_digests[key] = digest
        self._s.claimed.add(event_id)
        return first or not self._dedupe


class MemoryOutbox:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def add(self, outgoing: Sequence[Outgoing]) -> None:
        for item in outgoing:
            if item.message.event_id not in self._s.published_ids:
                self._s.published_ids.add(item.message.event_id)
                self._s.outbox.append(item)


class MemoryAudit:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def lock_chain(self, tenant_id: str) -> None:
        """Units of work run one at a time here: nothing to lock."""

    async def record(self, *, inbound: Inbound | None = None, outgoing: Sequence[Outgoing] = (), at: datetime) -> None:
        entries = [Archived(inbound.message, inbound.saga_id, "in", str(inbound.topic))] if inbound else []
        entries += [Archived(o.message, o.message.saga_id, "out", str(o.topic)) for o in outgoing]
        for entry in entries:
            if entry.message.event_id not in self._s.archived_ids:
                self._s.archived_ids.add(entry.message.event_id)
                self._s.archive.append(entry)


class MemorySignals:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def add(self, signal: LowStockObserved, *, received_at: datetime) -> None:
        kept = Signal(
            signal.event_id,
            signal.ingredient_id,
            signal.quantity_on_hand,
            signal.threshold,
            signal.observed_at,
            received_at,
        )
        self._s.signals.setdefault(signal.event_id, (signal.tenant_id, kept, None))

    async def oldest_pending(self) -> dict[str, datetime]:
        oldest: dict[str, datetime] = {}
        for tenant_id, signal, saga_id in self._s.signals.values():
            if saga_id is None:
                oldest[tenant_id] = min(oldest.get(tenant_id, signal.received_at), signal.received_at)
        return oldest

    async def lock_pending(self, tenant_id: str) -> list[Signal]:
        pending = [s for t, s, saga_id in self._s.signals.values() if t == tenant_id and saga_id is None]
        return sorted(pending, key=lambda s: s.received_at)

    async def assign(self, event_ids: Collection[UUID], saga_id: UUID) -> None:
        for event_id in event_ids:
            tenant_id, signal, _ = self._s.signals[event_id]
            self._s.signals[event_id] = (tenant_id, signal, saga_id)


class MemoryUnitOfWork:
    def __init__(self, state: _State, masterdata: MemoryMasterData, *, dedupe: bool) -> None:
        self.sagas = MemorySagas(state)
        self.snapshots = MemorySnapshots(state)
        self.masterdata = masterdata
        self.inbox = MemoryInbox(state, dedupe=dedupe)
        self.outbox = MemoryOutbox(state)
        self.audit = MemoryAudit(state)
        self.signals = MemorySignals(state)


class MemoryStores:
    """The unit-of-work factory in memory, and what tests read back: `outbox` (every message queued,
    in order), `archive`, `timeline(saga_id)`, `saga(saga_id)`, `effects`."""

    def __init__(
        self,
        tenants: dict[str, PlanningSnapshot] | None = None,
        *,
        time_zones: dict[str, str] | None = None,
        names: dict[str, str] | None = None,
        dedupe: bool = True,
    ) -> None:
        self._state = _State()
        self._masterdata = MemoryMasterData(dict(tenants or {}), dict(time_zones or {}), dict(names or {}))
        self._dedupe = dedupe
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def __call__(self, *, consistent_reads: bool = False) -> AsyncIterator[UnitOfWork]:
        async with self._lock:
            before = self._state.copied()
            try:
                yield MemoryUnitOfWork(self._state, self._masterdata, dedupe=self._dedupe)
            except BaseException:
                for name, value in vars(before).items():
                    setattr(self._state, name, value)
                raise

    @property
    def outbox(self) -> list[Outgoing]:
        return list(self._state.outbox)

    @property
    def archive(self) -> list[Archived]:
        return list(self._state.archive)

    @property
    def effects(self) -> list[Effect]:
        return list(self._state.effects)

    def saga(self, saga_id: UUID) -> SagaRecord | None:
        return self._state.sagas.get(saga_id)

    def sagas(self) -> list[SagaRecord]:
        return list(self._state.sagas.values())

    def timeline(self, saga_id: UUID) -> list[TimelineLine]:
        return list(self._state.timeline.get(saga_id, []))
