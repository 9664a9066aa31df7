"""What e2e tests do as a user would: seed tenants, publish triggers, wait for outcomes."""

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from aiokafka.admin import NewTopic
from sqlalchemy import delete, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bakeplan.acl_table import Principal
from bakeplan.migrate import upgrade
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_admin, new_consumer, new_producer
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import TenantData
from lab.tenants import seeded_tenant
from orchestrator import masterdata
from orchestrator.tables import sagas
from tests.admin_sql import admin_sql

TODAY = date(2026, 11, 28)


def trigger_window_env() -> dict[str, str]:
    """The processes' trigger window (docs/security.md): the tests plan the fixed `TODAY` and the days after
    it, so the window reaches back to it from the real today, and no further."""
    behind = max(1, (datetime.now(UTC).date() - TODAY).days + 2)
    return {"BAKEPLAN_TRIGGER_MAX_PAST_DAYS": str(behind), "BAKEPLAN_TRIGGER_MAX_FUTURE_DAYS": "30"}


TERMINAL = ("COMPLETED", "COMPENSATED", "FAILED")
T = TypeVar("T")


async def seed(
    engine: AsyncEngine,
    tenant_id: str,
    *,
    profile: str = "small",
    seed: int = 3,
    cold: bool = False,
    drawn_as: str | None = None,
) -> TenantData:
    """Write a synthetic tenant as `bakeplan seed` does: started warm (stock and orders in flight of
    weeks on the policy) unless `cold`. The generator seeds on the tenant id, so the data varies with
    it; `drawn_as` writes the data drawn for that id instead, under `tenant_id`: the same bakery on
    every run, for a test whose assertion holds for a known bakery, not for every bakery drawn."""
    drawn = seeded_tenant(drawn_as or tenant_id, profile=profile, seed=seed, today=TODAY, cold=cold)  # type: ignore[arg-type]
    tenant = dataclasses.replace(drawn, tenant_id=tenant_id)
    async with engine.begin() as conn:
        await write_tenant(conn, tenant)
    return tenant


async def without_supply(engine: AsyncEngine, tenant: TenantData) -> str:
    """Make the tenant's procurement fail: the first ingredient of its first recipe (flour, in most of
    them) loses every supplier offer, stock lot and open order, so its need is unmet and no one can
    deliver it. Returns the ingredient's id. (Without the stock and the orders, a warm tenant's need
    may be covered for the whole horizon, and its plan completes.)"""
    ingredient = tenant.recipes[0].lines[0].ingredient_id
    async with engine.begin() as conn:
        for table in (masterdata.supplier_items, masterdata.stock_lots, masterdata.open_purchase_orders):
            await conn.execute(
                delete(table).where(table.c.tenant_id == tenant.tenant_id, table.c.ingredient_id == ingredient)
            )
    return ingredient


@asynccontextmanager
async def own_database(settings: Settings, label: str) -> AsyncIterator[tuple[Settings, AsyncEngine]]:
    """A migrated database of the test's own on the session's server, dropped afterwards, with settings
    and an engine for it. For a test whose processes must be the only ones acting on its rows: the
    session's shared processes relay every outbox and scan every saga of the database they serve."""
    name = f"{label}_{uuid4().hex[:10]}"
    await admin_sql(settings.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    own = settings.model_copy(update={"database_url": url})
    engine = create_async_engine(url)
    try:
        await asyncio.to_thread(upgrade, own)
        yield own, engine
    finally:
        await engine.dispose()
        await admin_sql(settings.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def publish(settings: Settings, topic: Topic, value: bytes, *, key: bytes) -> None:
    await ensure_topics(settings, Principal.ADMIN)
    producer = new_producer(settings, Principal.ADMIN, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), value, key=key)
    finally:
        await producer.stop()


async def trigger(settings: Settings, tenant_id: str, business_date: date = TODAY) -> UUID:
    message = PlanningRequested(
        event_id=uuid4(),
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        business_date=business_date,
        source="external",
        requested_by="test",
    )
    await publish(settings, Topic.TRIGGERS, encode(message), key=tenant_id.encode())
    return saga_id_for_trigger(message.event_id)


async def eventually(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 60.0, what: str) -> T:
    """Poll `probe` until it returns something other than None (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.1)


async def saga_row(engine: AsyncEngine, saga_id: UUID) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(sagas).where(sagas.c.saga_id == saga_id))).mappings().first()
        return dict(row) if row else None


async def wait_terminal(engine: AsyncEngine, saga_id: UUID, *, timeout_s: float = 90.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        row = await saga_row(engine, saga_id)
        return row if row and row["status"] in TERMINAL else None

    return await eventually(probe, timeout_s=timeout_s, what=f"saga {saga_id} to finish")


async def read_topic(
    settings: Settings, topic: Topic, match: Callable[[Any], bool], *, timeout_s: float = 30.0, expect: int = 1
) -> list[Any]:
    """Records of `topic` (read_committed, from the beginning) for which `match(record)` holds;
    waits until at least `expect` match."""
    consumer = new_consumer(
        settings,
        Principal.ADMIN,
        settings.topic(topic),
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for rs in batch.values() for r in rs]
            found += [r for r in records if match(r)]
            if len(found) >= expect and not records:
                break
        return found
    finally:
        await consumer.stop()


@asynccontextmanager
async def private_topic(settings: Settings, stem: str, *, partitions: int) -> AsyncIterator[str]:
    """A topic of the test's own (`<prefix>test.<stem>.<random>`), deleted afterwards; bakeplan's
    topics (the dead-letter one among them) are made sure of first."""
    await ensure_topics(settings, Principal.ADMIN)
    name = settings.topic(f"test.{stem}.{uuid4().hex[:10]}")
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()
