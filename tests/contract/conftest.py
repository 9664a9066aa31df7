"""The orchestrator's store ports over both adapters: `harness` is parametrized over the in-memory fake
(marked unit) and Postgres (marked integration), so `pytest -m unit` runs the fake's half alone and a
full run holds the fake to the real adapter.

Each harness has one seeded synthetic tenant and reads back what the ports write but do not read
(outbox, audit archive, timeline, effect log), each adapter its own way. The Postgres database is
shared with other tests and runs: every test uses fresh tenant ids, and the Postgres harness deletes
their rows afterwards (the append-only audit archive keeps its rows; they name only those tenants).
"""

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import create_engine
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import TenantData, generate_tenant
from orchestrator import audit, masterdata
from orchestrator.ports import TimelineLine, UnitOfWorkFactory
from orchestrator.stores.memory import MemoryStores
from orchestrator.stores.postgres import CONSUMER, PostgresStores
from orchestrator.tables import effect_log, low_stock_signals, outbox, saga_log, sagas, snapshots, step_results

TODAY = date(2026, 11, 28)

Queued = tuple[str, UUID]
"""An outbox entry: (topic, event_id)."""
Archived = tuple[str, UUID, str]
"""An audit archive entry: (direction, event_id, topic)."""
Effect = tuple[str, UUID, str | None]
"""An effect log row: (kind, event_id, step)."""


def unique_tenant_id() -> str:
    return f"ct-{uuid4().hex[:10]}"


class StoreHarness(Protocol):
    """One adapter of the store ports, a tenant seeded in its master data, and its read-backs."""

    @property
    def stores(self) -> UnitOfWorkFactory: ...

    @property
    def tenant(self) -> TenantData: ...

    def tenant_id(self) -> str:
        """A fresh tenant id for rows the test writes (without master data)."""

    async def queued(self, event_ids: Collection[UUID]) -> list[Queued]:
        """The outbox entries of `event_ids`, in the order they were queued."""

    async def archived(self, saga_id: UUID) -> list[Archived]:
        """The saga's audit archive, in the order recorded."""

    async def timeline(self, saga_id: UUID) -> list[TimelineLine]: ...

    async def effects(self, saga_id: UUID) -> list[Effect]:
        """The saga's rows in the orchestrator's effect log, in the order logged."""


@dataclass
class MemoryHarness:
    stores: MemoryStores
    tenant: TenantData

    def tenant_id(self) -> str:
        return unique_tenant_id()

    async def queued(self, event_ids: Collection[UUID]) -> list[Queued]:
        return [(str(o.topic), o.message.event_id) for o in self.stores.outbox if o.message.event_id in event_ids]

    async def archived(self, saga_id: UUID) -> list[Archived]:
        return [(a.direction, a.message.event_id, a.topic) for a in self.stores.archive if a.saga_id == saga_id]

    async def timeline(self, saga_id: UUID) -> list[TimelineLine]:
        return self.stores.timeline(saga_id)

    async def effects(self, saga_id: UUID) -> list[Effect]:
        return [(e.kind, e.event_id, e.step) for e in self.stores.effects if e.saga_id == saga_id]


def _uuid(value: UUID) -> UUID:
    return UUID(bytes=value.bytes)  # asyncpg's own UUID subclass, as the standard one


@dataclass
class PostgresHarness:
    engine: AsyncEngine
    tenant: TenantData
    stores: PostgresStores = field(init=False)
    _tenant_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.stores = PostgresStores(self.engine)
        self._tenant_ids.add(self.tenant.tenant_id)

    def tenant_id(self) -> str:
        tenant_id = unique_tenant_id()
        self._tenant_ids.add(tenant_id)
        return tenant_id

    async def queued(self, event_ids: Collection[UUID]) -> list[Queued]:
        query = select(outbox.c.topic, outbox.c.event_id).where(outbox.c.event_id.in_(list(event_ids)))
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(outbox.c.id))
        return [(topic, _uuid(event_id)) for topic, event_id in rows]

    async def archived(self, saga_id: UUID) -> list[Archived]:
        async with self.engine.connect() as conn:
            entries = await audit.saga_entries(conn, saga_id)
        return [(e.direction, _uuid(e.event_id), e.topic) for e in entries]

    async def timeline(self, saga_id: UUID) -> list[TimelineLine]:
        query = select(saga_log.c.kind, saga_log.c.step, saga_log.c.detail).where(saga_log.c.saga_id == saga_id)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(saga_log.c.id))
        return [TimelineLine(kind, step, detail) for kind, step, detail in rows]

    async def effects(self, saga_id: UUID) -> list[Effect]:
        query = select(effect_log.c.kind, effect_log.c.event_id, effect_log.c.step).where(
            effect_log.c.saga_id == saga_id, effect_log.c.consumer == CONSUMER
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(effect_log.c.id))
        return [(kind, _uuid(event_id), step) for kind, event_id, step in rows]

    async def seed(self) -> None:
        async with self.engine.begin() as conn:
            await write_tenant(conn, self.tenant)

    async def clean_up(self) -> None:
        """Delete every row of the test's tenants: nothing it wrote is left for another test or run to see
        (a live saga would count against their admission, a pending signal would be scanned)."""
        tenant_ids = sorted(self._tenant_ids)
        their_sagas = select(sagas.c.saga_id).where(sagas.c.tenant_id.in_(tenant_ids))
        async with self.engine.begin() as conn:
            for table in (saga_log, step_results):
                await conn.execute(delete(table).where(table.c.saga_id.in_(their_sagas)))
            await conn.execute(delete(effect_log).where(effect_log.c.tenant_id.in_(tenant_ids)))
            await conn.execute(delete(sagas).where(sagas.c.tenant_id.in_(tenant_ids)))
            await conn.execute(delete(snapshots).where(snapshots.c.tenant_id.in_(tenant_ids)))
            await conn.execute(delete(low_stock_signals).where(low_stock_signals.c.tenant_id.in_(tenant_ids)))
            await conn.execute(delete(outbox).where(outbox.c.message_key.in_(tenant_ids)))
            for tenant_id in tenant_ids:
                await masterdata.delete_tenant(conn, tenant_id)


@pytest.fixture(scope="session")
async def contract_engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def memory_harness() -> MemoryHarness:
    tenant = generate_tenant(unique_tenant_id(), profile="small", seed=11, today=TODAY)
    snapshot = tenant.planning_snapshot(business_date=TODAY, horizon_days=14)
    stores = MemoryStores(
        {tenant.tenant_id: snapshot},
        time_zones={tenant.tenant_id: tenant.timezone},
        names={tenant.tenant_id: tenant.name},
    )
    return MemoryHarness(stores, tenant)


@pytest.fixture
async def postgres_harness(contract_engine: AsyncEngine) -> AsyncIterator[PostgresHarness]:
    tenant = generate_tenant(unique_tenant_id(), profile="small", seed=11, today=TODAY)
    postgres = PostgresHarness(contract_engine, tenant)
    await postgres.seed()
    try:
        yield postgres
    finally:
        await postgres.clean_up()


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def harness(request: pytest.FixtureRequest) -> StoreHarness:
    # the adapter's own fixture, looked up by name: only the Postgres half asks for the database,
    # so `pytest -m unit` needs none
    chosen: StoreHarness = request.getfixturevalue(f"{request.param}_harness")
    return chosen
