"""Each snapshot stored once (orchestrator/audit_snapshots.py): the audit archive keeps `SnapshotTaken`
without its snapshot and puts it back byte for byte when read; the chain verifies, replay is
identical, and a snapshot changed behind the archive's back breaks the chain."""

import hashlib
from datetime import date
from uuid import uuid4

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


async def test_the_archive_keeps_the_snapshot_once_and_gives_back_the_message_as_sent(engine: AsyncEngine) -> None:
    tenant_id = f"once-{uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=9, today=TODAY))
    pump = Pump(engine, [tenant_id])
    saga_id = await pump.trigger(tenant_id, TODAY)
    await pump.run()

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
