"""`--json` on the commands that change or report state: one JSON object on stdout that parses and says
what was done. Against the real Postgres, in-process (typer's CliRunner)."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from infra.settings import Settings
from orchestrator.tables import schedules

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def cli(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("BAKEPLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", db_settings.database_url)
    return runner


@pytest.fixture
async def scheduled(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """Tenants whose schedules the test sets; removed afterwards, so no other test's scheduler pass
    (tests/integration/test_scheduler_fanout.py plans every schedule without a due time) sees them."""
    tenants: list[str] = []
    yield tenants
    async with engine.begin() as conn:
        await conn.execute(delete(schedules).where(schedules.c.tenant_id.in_(tenants)))


def run_json(cli: CliRunner, *args: str, code: int = 0) -> Any:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_db_upgrade_says_which_database_and_revision(cli: CliRunner, db_settings: Settings) -> None:
    upgraded = run_json(cli, "db", "upgrade")

    assert upgraded["at_latest"] is True
    assert upgraded["revision"]
    assert upgraded["database"].split("@")[-1] == db_settings.database_url.split("@")[-1]


def test_schedule_set_pause_and_resume(cli: CliRunner, tenant_id: str, scheduled: list[str]) -> None:
    seeded = run_json(cli, "seed", "--prefix", tenant_id)
    tenant = seeded["tenants"][0]
    scheduled.append(tenant)

    schedule = run_json(
        cli, "schedule", "set", "--tenant", tenant, "--time-zone", "Europe/Madrid", "--at", "05:15",
        "--closed-weekday", "6", "--closed-date", "2026-12-25",
    )  # fmt: skip
    paused = run_json(cli, "schedule", "pause", "--tenant", tenant)
    resumed = run_json(cli, "schedule", "resume", "--tenant", tenant)

    assert schedule == {
        "tenant_id": tenant,
        "time_zone": "Europe/Madrid",
        "run_at": "05:15",
        "cutoff": "10:00",
        "closed_weekdays": [6],
        "closed_dates": ["2026-12-25"],
    }
    assert paused == {"tenant_id": tenant, "paused": True}
    assert resumed == {"tenant_id": tenant, "paused": False}


def test_stack_status_reports_each_server(cli: CliRunner) -> None:
    result = cli.invoke(app, ["stack", "status", "--json"])
    status = json.loads(result.stdout)

    assert set(status) == {"kafka", "postgres"}
    assert all(isinstance(server["running"], bool) and server["detail"] for server in status.values())
    assert result.exit_code == (0 if all(server["running"] for server in status.values()) else 1)
