"""The load of a fault test: seeded tenants, triggers published as a user would, raw records.

Every record a test produces is remembered with the partition and offset Kafka acknowledged, so the
checks can prove that nothing acknowledged was lost.
"""

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from uuid import UUID, uuid4

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from lab.synthetic import TenantData
from orchestrator import masterdata
from tests.e2e.support import TODAY, seed


@dataclass(frozen=True)
class Produced:
    """One record Kafka acknowledged (acks=all)."""

    topic: str
    partition: int
    offset: int
    event_id: UUID | None
    """The envelope's event id, when the record has one (poison may not)."""


@dataclass(frozen=True)
class SentTrigger:
    tenant_id: str
    business_date: date
    event_id: UUID
    saga_id: UUID
    """The saga this trigger starts, unless another trigger for the same day came first."""
    body: bytes
    record: Produced


def tenant_ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:02d}" for i in range(n)]


async def seed_tenants(engine: AsyncEngine, tenants: Sequence[str], *, seed_value: int) -> dict[str, TenantData]:
    """Master data of each tenant (profile "small"); generation is seeded by `seed_value` and the id.
    Their suppliers take orders at any hour: the sagas' business dates are fixed (TODAY on), the wall
    clock is not, and a cut-off behind the clock would hold every line back. So each saga's release
    step orders its due lines, and the checks count its purchase orders (docs/orders.md)."""
    seeded = {tenant: await seed(engine, tenant, profile="small", seed=seed_value) for tenant in tenants}
    async with engine.begin() as conn:
        await conn.execute(
            update(masterdata.suppliers)
            .where(masterdata.suppliers.c.tenant_id.in_(list(tenants)))
            .values(order_cutoff=None)
        )
    return seeded


async def break_procurement(engine: AsyncEngine, tenants: dict[str, TenantData]) -> None:
    """No supplier offers the first ingredient of the first recipe any more, and none of it is on
    hand or on order: procurement fails with a `PlanningError`, and the orchestrator compensates
    production and forecasting. (A warm tenant's stock and open orders may cover the whole horizon,
    and then a missing supplier is no error.)"""
    async with engine.begin() as conn:
        for tenant_id, data in tenants.items():
            ingredient = data.recipes[0].lines[0].ingredient_id
            for table in (masterdata.supplier_items, masterdata.stock_lots, masterdata.open_purchase_orders):
                await conn.execute(
                    delete(table).where(table.c.tenant_id == tenant_id, table.c.ingredient_id == ingredient)
                )


def daily_requests(tenants: Sequence[str], *, days: int, rng: random.Random) -> list[tuple[str, date]]:
    """(tenant, business date) for `days` consecutive dates from TODAY per tenant, in a seeded
    random order. One plan per tenant and day is an invariant, so each pair is one saga."""
    pairs = [(t, TODAY + timedelta(days=d)) for t in tenants for d in range(days)]
    rng.shuffle(pairs)
    return pairs


class KafkaWriter:
    """An idempotent producer (acks=all) that remembers where each record landed."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = new_producer(
            settings,
            Principal.ADMIN,
            enable_idempotence=True,
            acks="all",
            max_request_size=4 * 1024 * 1024,
        )
        self.produced: list[Produced] = []

    async def __aenter__(self) -> "KafkaWriter":
        await ensure_topics(self._settings, Principal.ADMIN)
        await self._producer.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()

    async def send(
        self,
        topic: Topic,
        value: bytes,
        *,
        key: bytes,
        event_id: UUID | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> Produced:
        meta = await self._producer.send_and_wait(str(topic), value, key=key, headers=list(headers) or None)
        record = Produced(str(topic), meta.partition, meta.offset, event_id)
        self.produced.append(record)
        return record

    async def trigger(self, tenant_id: str, business_date: date) -> SentTrigger:
        message = PlanningRequested(
            event_id=uuid4(),
            tenant_id=tenant_id,
            occurred_at=datetime.now(UTC),
            business_date=business_date,
            source="external",
            requested_by="fault-suite",
        )
        body = encode(message)
        record = await self.send(Topic.TRIGGERS, body, key=tenant_id.encode(), event_id=message.event_id)
        return SentTrigger(
            tenant_id, business_date, message.event_id, saga_id_for_trigger(message.event_id), body, record
        )

    async def resend(self, trigger: SentTrigger) -> SentTrigger:
        """The same trigger again, byte for byte (same event id): a producer retry or a replay."""
        record = await self.send(
            Topic.TRIGGERS, trigger.body, key=trigger.tenant_id.encode(), event_id=trigger.event_id
        )
        return SentTrigger(
            trigger.tenant_id, trigger.business_date, trigger.event_id, trigger.saga_id, trigger.body, record
        )

    async def triggers(self, requests: Sequence[tuple[str, date]], *, over_s: float = 0.0) -> list[SentTrigger]:
        """Publish one trigger per request, spread evenly over `over_s` seconds (0: at once), so the
        load overlaps the faults instead of preceding them."""
        start = time.monotonic()
        sent: list[SentTrigger] = []
        for i, (tenant, day) in enumerate(requests):
            due = start + over_s * i / max(1, len(requests))
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # pacing the load, not waiting for a condition
            sent.append(await self.trigger(tenant, day))
        return sent
