"""The whole stack with a Postgres role per component: `bakeplan db upgrade` and `db roles apply` as the
operator, then every process started as a user would with `BAKEPLAN_DB_ROLES=true`, so each connects
as its own role of least privilege. A daily saga completes; the sessions show who connected; the
audit chain is keyed with the configured key; reporting sees the plan of the tenant it names only.

Own database, role names and topic prefix, so the rest of the e2e suite is not affected."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.cli.acl import provision, unprovision
from bakeplan.db_roles import ROLES
from infra.settings import Settings
from tests.admin_sql import admin_sql
from tests.e2e.processes import ROLES as PROCESS_ROLES
from tests.e2e.processes import Processes
from tests.e2e.support import seed, trigger, wait_terminal
from workers.procurement.tables import purchase_lines

pytestmark = pytest.mark.e2e
AUDIT_KEY = "e2e audit key, held outside Postgres"


@pytest.fixture(scope="module")
def role_stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict[str, str]]]:
    """The operator's settings on a database of its own, and the environment every process gets."""
    name = f"roles_e2e_{uuid.uuid4().hex[:10]}"
    prefix = f"e{uuid.uuid4().hex[:8]}_"
    asyncio.run(admin_sql(settings.database_url, f'CREATE DATABASE "{name}"'))
    operator = settings.model_copy(
        update={
            "database_url": make_url(settings.database_url).set(database=name).render_as_string(hide_password=False),
            "topic_prefix": f"{settings.topic_prefix}roles.",
        }
    )
    env = {
        "DATABASE_URL": operator.database_url,
        "BAKEPLAN_DATABASE_URL": operator.database_url,
        "BAKEPLAN_TOPIC_PREFIX": operator.topic_prefix,
        "BAKEPLAN_DB_ROLES": "true",
        "BAKEPLAN_DB_ROLE_PREFIX": prefix,
        "BAKEPLAN_DB_ROLE_PASSWORDS": orjson.dumps({r.role: f"pw-{uuid.uuid4().hex[:8]}" for r in ROLES}).decode(),
        "BAKEPLAN_AUDIT_KEY": AUDIT_KEY,
        "BAKEPLAN_AUDIT_KEY_ID": "e2e-1",
    }
    secure = operator.kafka_security_protocol != "PLAINTEXT"
    if secure:  # its own topics on a broker with ACLs: provisioned as the admin, as `acl apply` does
        provision(operator)
    try:
        for command in (["db", "upgrade"], ["db", "roles", "apply"]):  # as the operator, as documented
            result = CliRunner().invoke(app, command, env=env)
            assert result.exit_code == 0, result.output
        yield operator, env
    finally:
        if secure:
            unprovision(operator)
        asyncio.run(
            admin_sql(
                settings.database_url,
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                *(f'DROP ROLE IF EXISTS "{prefix}{r.role}"' for r in ROLES),
            )
        )


async def _plan(operator: Settings, prefix: str) -> tuple[str, uuid.UUID, int, set[str]]:
    """Seed a tenant and plan it through the running processes: (tenant, saga, purchase lines, who connected)."""
    engine = create_async_engine(operator.database_url)
    try:
        tenant = f"roles-{uuid.uuid4().hex[:6]}"
        await seed(engine, tenant)
        saga_id = await trigger(operator, tenant)
        finished = await wait_terminal(engine, saga_id)
        assert finished["status"] == "COMPLETED", finished
        async with engine.connect() as conn:
            users = await conn.execute(
                text("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()")
            )
            lines = await conn.execute(
                select(func.count()).select_from(purchase_lines).where(purchase_lines.c.saga_id == saga_id)
            )
            return tenant, saga_id, int(lines.scalar_one()), set(users.scalars())
    finally:
        await engine.dispose()


async def _reporting_counts(reporting_url: str, saga_id: uuid.UUID, tenants: tuple[str, ...]) -> dict[str, int]:
    """The saga's purchase lines that the reporting role sees with each tenant named in app.tenant_id."""
    engine = create_async_engine(reporting_url)
    counts = {}
    try:
        for named in tenants:
            async with engine.begin() as conn:
                await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": named})
                query = text("SELECT count(*) FROM procurement.purchase_lines WHERE saga_id = :s")
                counts[named] = int((await conn.execute(query, {"s": saga_id})).scalar_one())
    finally:
        await engine.dispose()
    return counts


def test_a_saga_completes_with_every_process_on_its_own_role(
    role_stack: tuple[Settings, dict[str, str]], tmp_path: Path
) -> None:
    operator, env = role_stack
    prefix = env["BAKEPLAN_DB_ROLE_PREFIX"]
    overrides: dict[str, Any] = env
    procs = Processes(operator, tmp_path, **overrides)
    try:
        procs.start_all()
        tenant, saga_id, lines, users = asyncio.run(_plan(operator, prefix))
        logs = {role: procs.log_text(role) for role in PROCESS_ROLES}
    finally:
        procs.stop_all()
    assert {f"{prefix}{role}" for role in PROCESS_ROLES} <= users
    assert lines > 0
    for role, log in logs.items():
        assert "permission denied" not in log, role

    # the chain was keyed with the configured key: it verifies with it, and not with the development key
    verified = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant], env=env)
    assert verified.exit_code == 0, verified.output
    assert "every link holds" in verified.output
    dev = {**env, "BAKEPLAN_AUDIT_KEY": None, "BAKEPLAN_AUDIT_KEY_ID": None}  # None: unset, even where CI sets one
    refused = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant], env=dev)
    assert refused.exit_code == 1, refused.output
    assert "is not a key this verifier holds" in refused.output

    # reporting, with the tenant named, sees its plan; with another tenant named, none of it
    reporting = Settings(database_url=operator.database_url, db_roles=True, db_role_prefix=prefix)
    counts = asyncio.run(_reporting_counts(reporting.role_database_url("reporting"), saga_id, (tenant, "someone-else")))
    assert counts == {tenant: lines, "someone-else": 0}
