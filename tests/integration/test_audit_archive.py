"""The audit archive on real Postgres: append-only, one unforked chain per tenant under concurrent
appends, tampering reported by `bakeplan audit verify`, the orchestrator's records, replay's
read-only transaction."""

import asyncio
import dataclasses
import hashlib
import os
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested, PlanReady
from contracts.topics import Topic
from infra.messaging.outbox import Outgoing
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import audit, replay_store
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import audit_chain_heads, audit_events
from tests.golden.write import path_of

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
TODAY = date(2026, 11, 28)
KEYS = audit.audit_keys(Settings())
"""The audit key the CLI under test verifies with: BAKEPLAN_AUDIT_KEY (CI sets one), else the development key."""


def plan_ready(tenant_id: str, saga_id: uuid.UUID | None = None) -> PlanReady:
    return PlanReady(
        event_id=uuid.uuid4(),
        tenant_id=tenant_id,
        saga_id=saga_id or uuid.uuid4(),
        occurred_at=NOW,
        business_date=TODAY,
        batches=3,
        purchase_lines=2,
    )


async def append(engine: AsyncEngine, tenant_id: str, n: int) -> list[uuid.UUID]:
    """n events for the tenant, one transaction each (as n handlers would)."""
    ids = []
    for _ in range(n):
        message = plan_ready(tenant_id)
        async with engine.begin() as conn:
            await audit.record(conn, outgoing=[Outgoing(Topic.PLANS, message)], at=datetime.now(UTC), keys=KEYS)
        ids.append(message.event_id)
    return ids


async def seqs(engine: AsyncEngine, tenant_id: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_events.c.seq).where(audit_events.c.tenant_id == tenant_id).order_by(audit_events.c.seq)
        )
        return list(rows.scalars())


async def test_the_archive_rejects_update_and_delete(engine: AsyncEngine, tenant_id: str) -> None:
    (event_id,) = await append(engine, tenant_id, 1)
    for statement in (
        "UPDATE orchestrator.audit_events SET topic = 'x' WHERE event_id = :id",
        "DELETE FROM orchestrator.audit_events WHERE event_id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement), {"id": event_id})
    async with engine.connect() as conn:
        kept = await conn.execute(select(audit_events.c.topic).where(audit_events.c.event_id == event_id))
        assert kept.scalar_one() == str(Topic.PLANS)


async def test_concurrent_appends_for_one_tenant_form_one_chain(engine: AsyncEngine, tenant_id: str) -> None:
    writers, per_writer = 6, 8
    await asyncio.gather(*(append(engine, tenant_id, per_writer) for _ in range(writers)))
    n = writers * per_writer
    assert await seqs(engine, tenant_id) == list(range(1, n + 1))
    async with engine.connect() as conn:
        outcome = await audit.verify(conn, KEYS, tenant_id=tenant_id)
        head = (await conn.execute(select(audit_chain_heads).where(audit_chain_heads.c.tenant_id == tenant_id))).one()
    assert outcome.broken == []
    assert (outcome.tenants, outcome.events) == (1, n)
    assert head.seq == n


async def test_an_event_archived_twice_keeps_its_first_link(engine: AsyncEngine, tenant_id: str) -> None:
    message = plan_ready(tenant_id)
    for _ in range(2):
        async with engine.begin() as conn:
            await audit.record(conn, outgoing=[Outgoing(Topic.PLANS, message)], at=NOW, keys=KEYS)
    await append(engine, tenant_id, 1)
    assert await seqs(engine, tenant_id) == [1, 2]
    async with engine.connect() as conn:
        assert (await audit.verify(conn, KEYS, tenant_id=tenant_id)).broken == []


async def test_the_orchestrator_archives_a_trigger_and_what_it_emits_once(engine: AsyncEngine, tenant_id: str) -> None:
    tenant = generate_tenant(tenant_id, profile="small", seed=3, today=TODAY)
    async with engine.begin() as conn:
        await write_tenant(conn, tenant)
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    orchestrator = Orchestrator(
        PostgresStores(engine), {SagaKind.DAILY: definition}, lambda: NOW, on_commit=lambda: None
    )
    trigger = PlanningRequested(
        event_id=uuid.uuid4(), tenant_id=tenant_id, occurred_at=NOW, business_date=TODAY, source="operator"
    )
    await orchestrator.start(trigger)
    await orchestrator.start(trigger)  # a redelivery: the inbox drops it, the archive must not grow
    saga_id = saga_id_for_trigger(trigger.event_id)
    async with engine.connect() as conn:
        entries = await audit.saga_entries(conn, saga_id)
    assert [(e.direction, e.event_type) for e in entries] == [
        ("in", "planning.requested"),
        ("out", "planning.snapshot_taken"),
        ("out", "forecasting.forecast_demand"),
    ]
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].event_id == trigger.event_id
    assert {e.topic for e in entries} == {Topic.TRIGGERS, Topic.SNAPSHOTS, Topic.FORECASTING_COMMANDS}


async def test_replay_reads_in_a_transaction_postgres_keeps_read_only(engine: AsyncEngine, tenant_id: str) -> None:
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with replay_store.read_only(engine) as conn:
            await conn.execute(audit_chain_heads.insert().values(tenant_id=tenant_id, seq=0, hash=audit.GENESIS_HASH))
    async with engine.connect() as conn:
        count = await conn.execute(
            select(func.count()).select_from(audit_chain_heads).where(audit_chain_heads.c.tenant_id == tenant_id)
        )
        assert count.scalar_one() == 0


# --- tampering, as a superuser who disables the trigger ---------------------------------------------


@pytest.fixture
def tampered(db_settings: Settings) -> tuple[str, int, uuid.UUID]:
    """A tenant with 5 archived events whose seq 3 payload was rewritten behind the trigger's back.
    Sync: the CLI under test runs its own event loop."""
    tenant_id = f"it-{uuid.uuid4().hex[:10]}"

    async def setup() -> uuid.UUID:
        engine = create_async_engine(db_settings.database_url)
        try:
            ids = await append(engine, tenant_id, 5)
            async with engine.begin() as conn:
                await conn.execute(text("ALTER TABLE orchestrator.audit_events DISABLE TRIGGER USER"))
                await conn.execute(
                    text("UPDATE orchestrator.audit_events SET payload = :p WHERE event_id = :id"),
                    {"p": b'{"purchase_lines": 40}', "id": ids[2]},
                )
                await conn.execute(text("ALTER TABLE orchestrator.audit_events ENABLE TRIGGER USER"))
            return ids[2]
        finally:
            await engine.dispose()

    return tenant_id, 3, asyncio.run(setup())


def test_audit_verify_names_the_tampered_seq(tampered: tuple[str, int, uuid.UUID], db_settings: Settings) -> None:
    tenant_id, seq, event_id = tampered
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    result = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id], env=env)
    assert result.exit_code == 1, result.output
    assert f"tenant {tenant_id}: chain broken at seq {seq} (event {event_id}): payload changed" in result.output
    as_json = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id, "--json"], env=env)
    assert '"ok": false' in as_json.stdout
    assert f'"seq": {seq}' in as_json.stdout


def test_audit_verify_of_an_intact_chain_says_ok(db_settings: Settings) -> None:
    tenant_id = f"it-{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        engine = create_async_engine(db_settings.database_url)
        try:
            await append(engine, tenant_id, 4)
        finally:
            await engine.dispose()

    asyncio.run(setup())
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    result = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id], env=env)
    assert result.exit_code == 0, result.output
    assert "OK: 1 tenant chain(s), 4 events" in result.output


async def test_an_event_archived_by_an_older_release_replays_after_an_upgrade(engine: AsyncEngine) -> None:
    """The archive keeps the bytes as they were: a version-1 trigger recorded before `source`
    existed still verifies in the chain, and the replay reads it upcast to version 2."""
    tenant_id = f"old-{uuid.uuid4().hex[:8]}"
    saga_id = uuid.uuid4()
    v1 = orjson.loads(path_of("planning.requested", 1).read_bytes()) | {
        "event_id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
    }
    payload = orjson.dumps(v1)
    entry = audit.AuditEntry(
        event_id=uuid.UUID(v1["event_id"]),
        tenant_id=tenant_id,
        saga_id=saga_id,
        seq=1,
        event_type="planning.requested",
        schema_version=1,
        direction="in",
        topic="bakeplan.planning.triggers",
        payload=payload,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        prev_hash=audit.GENESIS_HASH,
        hash="",
        recorded_at=NOW,
        key_id=KEYS.key_id,
    )
    entry = dataclasses.replace(entry, hash=audit.entry_hash(entry, KEYS))
    async with engine.begin() as conn:
        await conn.execute(insert(audit_events).values(dataclasses.asdict(entry)))
        await conn.execute(insert(audit_chain_heads).values(tenant_id=tenant_id, seq=1, hash=entry.hash))

    async with replay_store.read_only(engine) as conn:
        recorded = await replay_store.load_saga(conn, saga_id)
        outcome = await audit.verify(conn, KEYS, tenant_id=tenant_id)

    assert outcome.broken == []
    assert outcome.events == 1
    assert recorded is not None
    assert recorded.trigger is not None
    assert (recorded.trigger.schema_version, recorded.trigger.source) == (2, "schedule")
    assert recorded.trigger.requested_by == "scheduler"


# --- a writer who rewrites a row and recomputes every later link (and the head) ---------------------


def recompute_after_rewrite(db_settings: Settings, tenant_id: str, keys: audit.AuditKeys | None) -> uuid.UUID:
    """5 events keyed with the development key; then, as the table owner who disables the trigger,
    seq 3's payload is rewritten and seq 3..5 and the head are recomputed: plain sha256 links
    (`keys` None) or HMACs under `keys`. Every link then agrees with its neighbours; returns seq 3's id."""

    async def setup() -> uuid.UUID:
        engine = create_async_engine(db_settings.database_url)
        try:
            await append(engine, tenant_id, 5)
            async with engine.begin() as conn:
                rows = await conn.execute(
                    select(audit_events).where(audit_events.c.tenant_id == tenant_id).order_by(audit_events.c.seq)
                )
                entries = [audit.AuditEntry(**row._mapping) for row in rows]
                forged = b'{"purchase_lines": 400}'
                prev = entries[1].hash
                await conn.execute(text("ALTER TABLE orchestrator.audit_events DISABLE TRIGGER USER"))
                for n, entry in enumerate(entries[2:]):
                    if n == 0:
                        entry = dataclasses.replace(
                            entry, payload=forged, payload_sha256=hashlib.sha256(forged).hexdigest()
                        )
                    entry = dataclasses.replace(entry, prev_hash=prev, key_id=keys.key_id if keys else None)
                    entry = dataclasses.replace(entry, hash=audit.entry_hash(entry, keys or KEYS))
                    await conn.execute(
                        audit_events.update()
                        .where(audit_events.c.event_id == entry.event_id)
                        .values(dataclasses.asdict(entry))
                    )
                    prev = entry.hash
                await conn.execute(text("ALTER TABLE orchestrator.audit_events ENABLE TRIGGER USER"))
                await conn.execute(
                    audit_chain_heads.update().where(audit_chain_heads.c.tenant_id == tenant_id).values(hash=prev)
                )
            return entries[2].event_id
        finally:
            await engine.dispose()

    return asyncio.run(setup())


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (None, "an unkeyed link after keyed ones"),
        (
            audit.AuditKeys(KEYS.key_id, b"not the key: it is held outside Postgres"),
            "without the audit key",
        ),
    ],
    ids=["recomputed-unkeyed", "recomputed-with-a-wrong-key"],
)
def test_audit_verify_detects_a_rewritten_and_recomputed_chain(
    db_settings: Settings, keys: audit.AuditKeys | None, problem: str
) -> None:
    tenant_id = f"it-{uuid.uuid4().hex[:10]}"
    event_id = recompute_after_rewrite(db_settings, tenant_id, keys)
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    for args in ([], ["--allow-unkeyed"]):
        result = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id, *args], env=env)
        assert result.exit_code == 1, result.output
        assert f"tenant {tenant_id}: chain broken at seq 3 (event {event_id}): " in result.output
        assert problem in result.output
        assert "BROKEN: 1 of 1 tenant chain(s), 5 events" in result.output


def test_audit_verify_with_another_configured_key_refuses_the_chain(db_settings: Settings) -> None:
    """The key comes from BAKEPLAN_AUDIT_KEY: the same intact chain is OK under its key, broken under another."""
    tenant_id = f"it-{uuid.uuid4().hex[:10]}"

    async def setup() -> None:
        engine = create_async_engine(db_settings.database_url)
        try:
            await append(engine, tenant_id, 3)
        finally:
            await engine.dispose()

    asyncio.run(setup())
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    ok = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id], env=env)
    assert ok.exit_code == 0, ok.output
    other = {**env, "BAKEPLAN_AUDIT_KEY": "another key of at least 16 chars"}
    broken = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id], env=other)
    assert broken.exit_code == 1, broken.output
    assert "chain broken at seq 1" in broken.output
