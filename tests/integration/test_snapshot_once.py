"""Each snapshot stored once (orchestrator/audit_snapshots.py): the audit archive keeps `SnapshotTaken`
without its snapshot and puts it back byte for byte when read; the chain verifies, replay is
identical, and a snapshot changed behind the archive's back breaks the chain."""

import hashlib
from datetime import date
from uuid import UUID, uuid4

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from orchestrator import audit, replay_store
from orchestrator.audit_links import DEV_AUDIT_KEYS
from orchestrator.replay import replay
from tests.integration.saga_pump import Pump

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


async def planned_saga(engine: AsyncEngine, *, seed: int) -> tuple[str, UUID]:
    """A small tenant of its own, planned for TODAY through the whole saga (in process)."""
    tenant_id = f"once-{uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=seed, today=TODAY))
    pump = Pump(engine, [tenant_id])
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()
    return tenant_id, saga_id


async def test_the_archive_keeps_the_snapshot_once_and_gives_back_the_message_as_sent(engine: AsyncEngine) -> None:
    tenant_id, saga_id = await planned_saga(engine, seed=9)

    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT a.snapshot_sha256, octet_length(a.payload) AS stored, a.payload_sha256, s.snapshot_sha256 "
                    "AS saga_snapshot, sn.size_bytes, o.payload AS sent FROM orchestrator.audit_events a "
                    "JOIN orchestrator.sagas s ON s.saga_id = a.saga_id "
                    "JOIN orchestrator.snapshots sn ON sn.sha256 = s.snapshot_sha256 "
                    "JOIN orchestrator.outbox o ON o.event_id = a.event_id "
                    "WHERE a.saga_id = :s AND a.event_type = 'planning.snapshot_taken'"
                ),
                {"s": saga_id},
            )
        ).one()
        entries = await audit.saga_entries(conn, saga_id)
    assert row.snapshot_sha256 == row.saga_snapshot, "the archived row refers to the saga's snapshot"
    assert row.size_bytes > 20_000
    assert row.stored < 1_000, f"the archive stores {row.stored} bytes: the snapshot again"
    (taken,) = [e for e in entries if e.event_type == "planning.snapshot_taken"]
    assert taken.payload == bytes(row.sent), "read back, it is the message exactly as it was sent"
    assert hashlib.sha256(taken.payload).hexdigest() == row.payload_sha256

    async with engine.connect() as conn:
        verified = await audit.verify(conn, DEV_AUDIT_KEYS, tenant_id=tenant_id)
    assert verified.broken == []
    assert verified.events == len(entries)
    async with replay_store.read_only(engine) as conn:
        recorded = await replay_store.load_saga(conn, saga_id)
    assert recorded is not None
    replayed = replay(recorded, expected_commands=replay_store.expected_commands(recorded))
    assert replayed.identical, [d.describe() for d in replayed.differences]

    # a snapshot changed behind the archive's back (here by the superuser the tests connect as)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE orchestrator.snapshots SET body = convert_to(replace(convert_from(body, 'UTF8'), "
                ":was, :now), 'UTF8') WHERE sha256 = :h"
            ),
            {"h": row.snapshot_sha256, "was": '"horizon_days":14', "now": '"horizon_days":15'},
        )
    try:
        async with engine.connect() as conn:
            tampered = await audit.verify(conn, DEV_AUDIT_KEYS, tenant_id=tenant_id)
        (broken,) = tampered.broken
        assert broken.event_id == taken.event_id
        assert "payload changed" in broken.problem
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE orchestrator.snapshots SET body = convert_to(replace(convert_from(body, 'UTF8'), "
                    ":was, :now), 'UTF8') WHERE sha256 = :h"
                ),
                {"h": row.snapshot_sha256, "was": '"horizon_days":15', "now": '"horizon_days":14'},
            )


async def test_the_step_commands_are_archived_without_the_snapshot_parts_they_carry(engine: AsyncEngine) -> None:
    """The forecasting, production and procurement commands copy most of the snapshot; the archive
    refers to it instead, and reads each command back exactly as it was sent."""
    tenant_id, saga_id = await planned_saga(engine, seed=5)

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT a.event_id, a.event_type, a.snapshot_sha256, s.snapshot_sha256 AS saga_snapshot, "
                    "a.payload AS stored, o.payload AS sent FROM orchestrator.audit_events a "
                    "JOIN orchestrator.sagas s ON s.saga_id = a.saga_id "
                    "JOIN orchestrator.outbox o ON o.event_id = a.event_id "
                    "WHERE a.saga_id = :s AND a.event_type IN ('forecasting.forecast_demand', "
                    "'production.schedule_production', 'procurement.plan_procurement')"
                ),
                {"s": saga_id},
            )
        ).all()
        entries = {e.event_id: e for e in await audit.saga_entries(conn, saga_id)}
        verified = await audit.verify(conn, DEV_AUDIT_KEYS, tenant_id=tenant_id)
    assert sorted(r.event_type for r in rows) == [
        "forecasting.forecast_demand",
        "procurement.plan_procurement",
        "production.schedule_production",
    ]
    for row in rows:
        stored, sent = orjson.loads(row.stored), orjson.loads(row.sent)
        assert row.snapshot_sha256 == row.saga_snapshot, row.event_type
        referred = {name for name, value in stored.items() if value == {"$snapshot_field": name}}
        # the snapshot's large parts are references; what the step added stays inline
        expected = {
            "forecasting.forecast_demand": {"products", "sales"},
            "production.schedule_production": {"products", "recipes"},
            "procurement.plan_procurement": {"ingredients", "suppliers"},
        }[row.event_type]
        assert expected <= referred, (row.event_type, referred)
        assert not referred & {"forecast", "requirements"}, "what the step added stays inline"
        parts = sum(len(orjson.dumps(sent[name])) for name in referred)
        assert parts > 1_000
        # the referred parts' bytes are not stored: only a reference of ~40 bytes each
        assert len(row.stored) <= len(row.sent) - parts + 40 * len(referred), row.event_type
        assert entries[row.event_id].payload == bytes(row.sent), "read back, it is the command exactly as sent"
        assert sent.keys() == stored.keys()
    assert verified.broken == []

    async with replay_store.read_only(engine) as conn:
        recorded = await replay_store.load_saga(conn, saga_id)
    assert recorded is not None
    replayed = replay(recorded, expected_commands=replay_store.expected_commands(recorded))
    assert replayed.identical, [d.describe() for d in replayed.differences]


async def test_a_snapshot_part_changed_behind_the_archives_back_breaks_the_commands_that_refer_to_it(
    engine: AsyncEngine,
) -> None:
    tenant_id, saga_id = await planned_saga(engine, seed=6)
    async with engine.connect() as conn:
        sha = (
            await conn.execute(
                text("SELECT snapshot_sha256 FROM orchestrator.sagas WHERE saga_id = :s"), {"s": saga_id}
            )
        ).scalar_one()
        body = (
            await conn.execute(text("SELECT body FROM orchestrator.snapshots WHERE sha256 = :h"), {"h": sha})
        ).scalar_one()
    snapshot = orjson.loads(body)
    supplier = snapshot["suppliers"][0]["name"]
    snapshot["suppliers"][0]["name"] = supplier + " (forged)"
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE orchestrator.snapshots SET body = :b WHERE sha256 = :h"),
            {"b": orjson.dumps(snapshot), "h": sha},
        )
    try:
        async with engine.connect() as conn:
            tampered = await audit.verify(conn, DEV_AUDIT_KEYS, tenant_id=tenant_id)
            entries = await audit.saga_entries(conn, saga_id)
        assert tampered.broken, "a changed supplier in the stored snapshot must break the chain"
        (command,) = [e for e in entries if e.event_type == "procurement.plan_procurement"]
        assert supplier + " (forged)" in command.payload.decode()
        assert hashlib.sha256(command.payload).hexdigest() != command.payload_sha256
        (forecast,) = [e for e in entries if e.event_type == "forecasting.forecast_demand"]
        assert hashlib.sha256(forecast.payload).hexdigest() == forecast.payload_sha256, "suppliers are not its part"
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE orchestrator.snapshots SET body = :b WHERE sha256 = :h"), {"b": body, "h": sha}
            )
