"""The database and engines the Postgres-role tests share (tests/integration/test_db_roles*.py): a migrated
database of its own with the roles applied and two tenants' master data, one engine per role, and the
helpers that ask Postgres for a refusal or a count."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bakeplan.db_roles import ROLES, apply_roles
from bakeplan.migrate import upgrade
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import generate_tenant
from tests.admin_sql import admin_sql

TODAY = date(2026, 11, 28)
TENANT_A = "rls-a"
TENANT_B = "rls-b"


async def apply(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await apply_roles(conn, settings)
    finally:
        await engine.dispose()


async def _seed(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            for n, tenant_id in enumerate((TENANT_A, TENANT_B)):
                await write_tenant(conn, generate_tenant(tenant_id, profile="small", seed=n, today=TODAY))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def roles_db(database_url: str) -> Iterator[Settings]:
    """A migrated database with the roles applied and two tenants' master data, as the operator."""
    name = f"roles_{uuid.uuid4().hex[:10]}"
    prefix = f"r{uuid.uuid4().hex[:8]}_"
    asyncio.run(admin_sql(database_url, f'CREATE DATABASE "{name}"'))
    settings = Settings(
        database_url=make_url(database_url).set(database=name).render_as_string(hide_password=False),
        db_roles=True,
        db_role_prefix=prefix,
        db_role_passwords={r.role: f"pw-{r.role}-{uuid.uuid4().hex[:6]}" for r in ROLES},
    )
    try:
        upgrade(settings)
        asyncio.run(apply(settings))
        asyncio.run(_seed(settings))
        yield settings
    finally:
        asyncio.run(
            admin_sql(
                database_url,
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                *(f'DROP ROLE IF EXISTS "{prefix}{r.role}"' for r in ROLES),
            )
        )


@pytest.fixture(scope="module")
async def engines(roles_db: Settings) -> AsyncIterator[dict[str, AsyncEngine]]:
    """One engine per role, connected with the URL its processes would use."""
    made = {r.role: create_async_engine(roles_db.role_database_url(r.role)) for r in ROLES}
    yield made
    for engine in made.values():
        await engine.dispose()


async def refused(engine: AsyncEngine, statement: str, *, tenant: str | None = None) -> str:
    """The error Postgres gives for `statement` (the test fails if it is allowed)."""
    async with engine.connect() as conn:
        if tenant is not None:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, false)"), {"t": tenant})
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(text(statement))
        await conn.rollback()
        await conn.execute(text("RESET app.tenant_id"))
    return str(caught.value.orig)


async def count(engine: AsyncEngine, query: str, *, as_tenant: str | None = None, **params: Any) -> int:
    """`query`'s count, with `app.tenant_id` set to `as_tenant` for the transaction (unset when None)."""
    async with engine.begin() as conn:
        if as_tenant is not None:
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": as_tenant})
        return int((await conn.execute(text(query), params)).scalar_one())
