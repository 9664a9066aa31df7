"""`bakeplan notify set|show` against real Postgres, in-process (typer's CliRunner): an unknown tenant
or a bad value is refused with exit 2 and nothing stored; a target is stored, shown, and replaced."""

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.db import create_engine
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from tests.integration.test_orders_cli import TODAY, as_json, cli, invoke

pytestmark = pytest.mark.integration
__all__ = ["cli"]


def _seeded(settings: Settings, tenant_id: str) -> None:
    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as conn:
                await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=3, today=TODAY))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_a_tenants_target_is_checked_stored_shown_and_replaced(
    cli: CliRunner, db_settings: Settings, tenant_id: str, tmp_path: Path
) -> None:
    said = invoke(cli, "notify", "set", "--tenant", tenant_id, "--email", "baker@kiel.example", code=2)
    assert f"--tenant: no tenant {tenant_id!r}" in said
    _seeded(db_settings, tenant_id)
    assert as_json(cli, "notify", "show", "--tenant", tenant_id) == []
    invoke(cli, "notify", "set", "--tenant", tenant_id, "--webhook", "ftp://x", "--signing-key-name", "k", code=2)
    assert as_json(cli, "notify", "show", "--tenant", tenant_id) == [], "a bad value stores nothing"

    said = invoke(cli, "notify", "set", "--tenant", tenant_id, "--email", "baker@kiel.example")
    assert f"{tenant_id}: notifications by email baker@kiel.example" in said
    file = tmp_path / "target.json"
    file.write_text('{"kind": "webhook", "url": "https://kiel.example/hook", "signing_key_name": "kiel"}')
    invoke(cli, "notify", "set", "--tenant", tenant_id, str(file))
    (shown,) = as_json(cli, "notify", "show", "--tenant", tenant_id)
    assert shown["tenant_id"] == tenant_id
    assert shown["target"] == {"kind": "webhook", "url": "https://kiel.example/hook", "signing_key_name": "kiel"}
    assert tenant_id in invoke(cli, "notify", "show")
