"""The stores the orchestrator's use cases talk to, as `Protocol` ports.

One unit of work is one transaction: every store it hands out reads and writes in it, and it commits
when the `async with` block ends cleanly, or rolls back when it raises. Two adapters implement the
ports: Postgres (`orchestrator/stores/postgres.py`) and in memory (`orchestrator/stores/memory.py`),
and one contract suite (`tests/contract/`) runs over both so the fake cannot drift from the real one.
"""

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Protocol
from uuid import UUID

from contracts.envelope import Message
from contracts.messages import DemandForecasted, LowStockObserved, ProcurementPlanned, ProductionScheduled
from contracts.planning import PlanningSnapshot
from contracts.purchasing_messages import PurchaseOrdersReleased
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.messaging.outbox import Outgoing
from orchestrator.engine import SagaState, SagaStatus
from orchestrator.low_stock_rules import Signal

StepReply = DemandForecasted | ProductionScheduled | ProcurementPlanned | PurchaseOrdersReleased

LIVE_STATUSES = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
"""A saga in one of these still runs steps or compensations (and counts against admission)."""
DAY_TAKEN_STATUSES = (*LIVE_STATUSES, SagaStatus.COMPLETED)
"""A daily saga in one of these is the day's plan: a second trigger for the day is a no-op."""
TERMINAL_STATUSES = tuple(status for status in SagaStatus if status.terminal)
"""A saga in one of these has ended."""


@dataclass(frozen=True)
class Inbound:
    """A message the orchestrator consumed, to archive with what its handler emits (`AuditLog.record`).
    `saga_id` names the saga it belongs to: a trigger carries none, it starts the one it is recorded
    under; a low-stock signal is archived with None, and its signal row links it to its saga later."""

    message: Message
    topic: Topic
    saga_id: UUID | None

    @cached_property
    def payload(self) -> bytes:
        """The message encoded, once for the archive and the saga's kept step result."""
        return encode(self.message)


class SagaKind(StrEnum):
    DAILY = "daily"
    LOW_STOCK = "low_stock"
    """Procurement-only, started by a burst of low-stock signals (docs/low_stock.md)."""


@dataclass(frozen=True)
class SagaRecord:
    saga_id: UUID
    tenant_id: str
    business_date: date
    kind: SagaKind
    state: SagaState
    trigger_event_id: UUID
    snapshot_sha256: str
    """"" until its first state is saved with it (a saga row is inserted before its inputs are read)."""


@dataclass(frozen=True)
class TimelineLine:
    """One line of a saga's timeline (`bakeplan show`)."""

    kind: str
    step: str | None
    detail: str


@dataclass(frozen=True)
class TenantProfile:
    """What a purchase order says of the tenant, and where its wall clock is."""

    name: str
    time_zone: str
    """IANA time zone (cut-offs and order dates are the tenant's local time)."""
    currency: str
    """ISO 4217 code of the tenant's money."""


@dataclass(frozen=True)
class StoredSnapshot:
    sha256: str
    size_bytes: int


class SagaStore(Protocol):
    async def day_plan(self, tenant_id: str, business_date: date) -> tuple[UUID, SagaStatus] | None:
        """The tenant's daily saga of `business_date` that is running, compensating or completed."""

    async def add(self, saga: SagaRecord, *, at: datetime) -> bool:
        """Insert a new saga. False, and nothing written, when a saga already holds one of its keys:
        its id, its trigger, the tenant's day-taking daily saga of its date (`DAY_TAKEN_STATUSES`), or
        a live low-stock saga of the tenant (at most one runs per tenant)."""

    async def lock(self, saga_id: UUID) -> SagaRecord | None:
        """The saga, locked until the unit of work ends; None if unknown."""

    async def save_state(
        self, saga_id: UUID, state: SagaState, *, at: datetime, snapshot_sha256: str | None = None
    ) -> None:
        """Store the engine's new state; `snapshot_sha256` attaches the saga's snapshot (at its start:
        a saga row is inserted before its inputs are read)."""

    async def count_live(self) -> int:
        """Sagas running or compensating, of every tenant and kind."""

    async def due(self, now: datetime, *, limit: int) -> list[UUID]:
        """Live sagas whose next deadline is at or before `now`, earliest first, locked; sagas another
        unit of work holds are skipped."""

    async def tenant_of(self, saga_id: UUID) -> str | None:
        """The tenant of a saga, read without its state (which may be what cannot be read); None if unknown."""

    async def live_low_stock_tenants(self, tenant_ids: Collection[str]) -> set[str]:
        """Which of `tenant_ids` have a low-stock saga running or compensating."""

    async def log(self, saga_id: UUID, lines: Sequence[TimelineLine], *, at: datetime) -> None:
        """Append lines to the saga's timeline, in order."""

    async def log_effect(
        self, kind: str, *, event_id: UUID, saga_id: UUID, tenant_id: str, step: str | None, at: datetime
    ) -> None:
        """The orchestrator's effect log: one row per message it acted on (the fault suite counts them)."""

    async def add_result(self, saga_id: UUID, reply: StepReply, *, payload: bytes | None = None) -> None:
        """Keep a step's reply (the first of a step; a redelivered one is ignored). `payload`: the reply
        encoded (`codec.encode`), when the caller has it already (`Inbound.payload`)."""

    async def results(self, saga_id: UUID, steps: Collection[str]) -> list[StepReply]:
        """The kept replies of `steps` (each is large: ask only for those needed)."""

    async def result_lengths(self, saga_id: UUID, fields: Mapping[str, str]) -> dict[str, int]:
        """For each step kept of `fields` (step → the name of a list field of its reply), that list's
        length; a step with no reply kept is left out. For counts, without validating whole replies."""

    async def completed_results(
        self, tenant_id: str, step: str, *, daily_on: date | None, low_stock_since: date | None
    ) -> list[StepReply]:
        """The `step` replies of the tenant's COMPLETED sagas: the daily saga of `daily_on` and the
        low-stock sagas of business dates since `low_stock_since` (either None: none of that kind)."""


class SnapshotStore(Protocol):
    async def add(self, snapshot: PlanningSnapshot) -> StoredSnapshot:
        """Store a snapshot by the sha256 of its JSON; storing the same content again is a no-op."""

    async def get(self, sha256: str) -> PlanningSnapshot: ...


class MasterData(Protocol):
    """The tenants' master data, read-only to the orchestrator."""

    async def tenant_exists(self, tenant_id: str) -> bool: ...

    async def ingredient_exists(self, tenant_id: str, ingredient_id: str) -> bool: ...

    async def time_zone(self, tenant_id: str) -> str:
        """The tenant's IANA time zone."""

    async def tenant_profile(self, tenant_id: str) -> TenantProfile:
        """The tenant's name, time zone and currency (for the purchase orders it releases)."""

    async def snapshot(self, tenant_id: str, *, business_date: date, horizon_days: int) -> PlanningSnapshot:
        """One consistent snapshot of the tenant's master data (read in the unit of work's transaction)."""


class Inbox(Protocol):
    async def claim(self, event_id: UUID, *, tenant_id: str = "", digest: str | None = None) -> bool:
        """True the first time the orchestrator sees `event_id` of `tenant_id`; False for a redelivery of the
        same content (`digest`, `contracts.binding.content_digest`). Raises `TenantBindingError` when
        the id was claimed for that tenant with another digest."""


class Outbox(Protocol):
    async def add(self, outgoing: Sequence[Outgoing]) -> None:
        """Queue messages to publish once the unit of work commits (each event id once)."""


class AuditLog(Protocol):
    async def record(self, *, inbound: Inbound | None = None, outgoing: Sequence[Outgoing] = (), at: datetime) -> None:
        """Archive what a handler consumed and what it emitted, in that order (orchestrator/audit.py)."""

    async def lock_chain(self, tenant_id: str) -> None:
        """Hold the tenant's audit chain until the unit of work ends. A unit of work with
        `consistent_reads` that archives calls it first (orchestrator/audit.py, `lock_chain`)."""


class LowStockSignals(Protocol):
    async def add(self, signal: LowStockObserved, *, received_at: datetime) -> None:
        """Keep a signal as pending (a second one with the same event id is ignored)."""

    async def oldest_pending(self) -> dict[str, datetime]:
        """Per tenant with pending signals, when the oldest of them was received."""

    async def lock_pending(self, tenant_id: str) -> list[Signal]:
        """The tenant's pending signals, oldest first, locked; signals another unit of work holds are
        skipped."""

    async def assign(self, event_ids: Collection[UUID], saga_id: UUID) -> None:
        """Mark signals as covered by `saga_id` (no longer pending)."""


class UnitOfWork(Protocol):
    """The stores of one transaction (read-only members, so an adapter's own store types satisfy them)."""

    @property
    def sagas(self) -> SagaStore: ...
    @property
    def snapshots(self) -> SnapshotStore: ...
    @property
    def masterdata(self) -> MasterData: ...
    @property
    def inbox(self) -> Inbox: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def signals(self) -> LowStockSignals: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, consistent_reads: bool = False) -> AbstractAsyncContextManager[UnitOfWork]:
        """A new unit of work. `consistent_reads`: every read sees one snapshot of the database
        (REPEATABLE READ), as a saga's master-data snapshot must."""
