"""Message bodies Postgres stores (outboxes, step results, the audit archive, claim checks, snapshots) are
compressed with lz4 when Postgres moves them out of line (migration 0020): pglz took ~5× the CPU to
store them. Checked on a real Postgres: the columns' method in the catalog, and the values the real
write paths store."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.messages import SagaFailedAlert
from contracts.topics import Topic
from infra.messaging import outbox_rows
from infra.messaging.payload_limits import PayloadLimits
from orchestrator import audit
from orchestrator import tables as orchestrator_tables

pytestmark = pytest.mark.integration

PAYLOAD_COLUMNS = [
    ("orchestrator", "outbox", "payload"),
    ("forecasting", "outbox", "payload"),
    ("production", "outbox", "payload"),
    ("procurement", "outbox", "payload"),
    ("orchestrator", "step_results", "payload"),
    ("orchestrator", "audit_events", "payload"),
    ("messaging", "claim_checks", "payload"),
    ("orchestrator", "snapshots", "body"),
]


async def _server_has_lz4(conn: AsyncConnection) -> bool:
    enumvals = (
        await conn.execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
    ).scalar_one()
    return "lz4" in enumvals


def _body(lines: int) -> bytes:
    """A plan-like JSON body: compressible, as the real ones are (~4× with pglz)."""
    line = '{"product_id":"P%04d","day":"2026-12-%02d","units":%d.25,"model":"ets-weekly"}'
    return ('{"lines":[' + ",".join(line % (i, 1 + i % 28, i % 97) for i in range(lines)) + "]}").encode()


async def test_the_payload_columns_compress_with_lz4(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        has_lz4 = await _server_has_lz4(conn)
        methods = {
            (schema, table, column): (
                await conn.execute(
                    text(
                        "SELECT a.attcompression::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = :schema AND c.relname = :table AND a.attname = :column"
                    ),
                    {"schema": schema, "table": table, "column": column},
                )
            ).scalar_one()
            for schema, table, column in PAYLOAD_COLUMNS
        }
    # 'l' is lz4; '' is the server's default (pglz), what a server without lz4 keeps
    assert methods == dict.fromkeys(PAYLOAD_COLUMNS, "l" if has_lz4 else "")


async def test_queued_archived_and_claim_checked_bodies_are_stored_with_lz4(engine: AsyncEngine) -> None:
    tenant = f"lz4-{uuid.uuid4().hex[:8]}"
    limits = PayloadLimits(claim_check_bytes=256 * 1024)
    items = []
    for lines in (2_000, 6_000):  # ~150 KB inline; ~450 KB by claim check
        head = SagaFailedAlert(
            event_id=uuid.uuid4(), tenant_id=tenant, saga_id=uuid.uuid4(), occurred_at=datetime.now(UTC), reason="r"
        )
        items.append(outbox_rows.Outgoing.encoded(Topic.ALERTS, head, _body(lines)))
    async with engine.begin() as conn:
        has_lz4 = await _server_has_lz4(conn)
        await outbox_rows.add(conn, orchestrator_tables.outbox, items, limits=limits)
        await audit.record(conn, outgoing=items, at=datetime.now(UTC), keys=audit.DEV_AUDIT_KEYS)
    ids = [item.message.event_id for item in items]
    async with engine.connect() as conn:
        queued = (
            await conn.execute(
                text(
                    "SELECT claim_sha256, pg_column_compression(payload) AS method FROM orchestrator.outbox"
                    " WHERE event_id = ANY(:ids) ORDER BY octet_length(payload) DESC"
                ),
                {"ids": ids},
            )
        ).all()
        archived = (
            await conn.execute(
                text("SELECT pg_column_compression(payload) FROM orchestrator.audit_events WHERE event_id = ANY(:ids)"),
                {"ids": ids},
            )
        ).scalars()
        claimed = (
            await conn.execute(
                text("SELECT pg_column_compression(payload) FROM messaging.claim_checks WHERE sha256 = :sha"),
                {"sha": next(row.claim_sha256 for row in queued if row.claim_sha256)},
            )
        ).scalar_one()
    method = "lz4" if has_lz4 else "pglz"
    # the inline body is compressed; the claim-checked row holds a short reference, stored as is
    assert [row.method for row in queued] == [method, None]
    assert list(archived) == [method, method]
    assert claimed == method
