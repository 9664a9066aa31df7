"""A producer still on an old schema version keeps working after bakeplan upgraded: its message is
lifted by the upcasters and the saga runs as if it had sent the current version."""

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.ids import saga_id_for_trigger
from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.tables import saga_log
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, publish, seed, wait_terminal
from tests.golden.write import path_of

pytestmark = pytest.mark.e2e


async def test_a_version_1_trigger_from_an_old_cron_still_plans_the_day(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    tenant = f"{tenant_prefix}-v1"
    await seed(engine, tenant)
    old = orjson.loads(path_of("planning.requested", 1).read_bytes()) | {
        "event_id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "business_date": TODAY.isoformat(),
        "occurred_at": datetime.now(UTC).isoformat(),
        "requested_by": "night-cron",
    }
    assert old["schema_version"] == 1
    assert "source" not in old

    await publish(settings, Topic.TRIGGERS, orjson.dumps(old), key=tenant.encode())
    saga_id = saga_id_for_trigger(uuid.UUID(old["event_id"]))
    finished = await wait_terminal(engine, saga_id)

    assert finished["status"] == "COMPLETED"
    async with engine.connect() as conn:
        started = (
            await conn.execute(
                select(saga_log.c.detail).where(saga_log.c.saga_id == saga_id, saga_log.c.kind == "started")
            )
        ).scalar_one()
    assert started.startswith("by night-cron (operator);"), started
