"""Postgres roles of the jobs and tools beside the stack's processes: the retention job and the web
console each connect as their own role and are refused outside their grants (the database and roles
of tests/integration/db_roles_support.py)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.settings import Settings
from orchestrator.retention import RetentionJob, RetentionPolicy
from tests.integration.db_roles_support import TENANT_A, engines, refused, roles_db

pytestmark = pytest.mark.integration
__all__ = ["engines", "roles_db"]  # the module's fixtures


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM orchestrator.audit_events",
        "SELECT payload FROM orchestrator.audit_events",
        "DELETE FROM orchestrator.sagas",
        "DELETE FROM masterdata.tenants",
        "INSERT INTO forecasting.inbox (consumer, event_id) VALUES ('x', gen_random_uuid())",
        "DELETE FROM procurement.purchase_lines",
    ],
)
async def test_the_retention_role_may_not_touch_the_archive_master_data_or_results(
    engines: dict[str, AsyncEngine], statement: str
) -> None:
    assert "permission denied" in await refused(engines["retention"], statement)


async def test_the_retention_job_runs_as_its_own_role(roles_db: Settings, engines: dict[str, AsyncEngine]) -> None:
    old = datetime.now(UTC) - timedelta(days=90)
    async with engines["owner"].begin() as conn:
        for schema in ("orchestrator", "forecasting", "production", "procurement"):
            await conn.execute(
                text(
                    f"INSERT INTO {schema}.inbox (consumer, event_id, tenant_id, received_at) VALUES ('r', :e, :t, :at)"
                ),
                {"e": uuid.uuid4(), "t": TENANT_A, "at": old},
            )
    policy = RetentionPolicy.from_settings(roles_db)
    report = await RetentionJob(engines["retention"], policy).run(now=datetime.now(UTC))
    assert report is not None
    assert report.skipped == []
    assert all(report.deleted[f"{s}.inbox"] == 1 for s in ("orchestrator", "forecasting", "production", "procurement"))


async def test_the_console_reads_plans_writes_its_own_log_and_pauses_schedules_only(
    engines: dict[str, AsyncEngine],
) -> None:
    console = engines["console"]
    async with console.begin() as conn:
        await conn.execute(
            text("INSERT INTO console.actions (username, role, action, outcome) VALUES ('u', 'operator', 'x', 'done')")
        )
        await conn.execute(text("UPDATE orchestrator.schedules SET paused = paused"))
        assert (await conn.execute(text("SELECT count(*) FROM orchestrator.sagas"))).scalar_one() >= 0
    for statement in (
        "UPDATE orchestrator.sagas SET reason = 'x'",
        "INSERT INTO masterdata.tenants (tenant_id, name) VALUES ('x', 'x')",
        "DELETE FROM production.batches",
        "INSERT INTO orchestrator.audit_events (tenant_id) VALUES ('x')",
    ):
        assert "permission denied" in await refused(console, statement), statement
