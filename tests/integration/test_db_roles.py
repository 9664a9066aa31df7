"""Postgres roles of least privilege (`bakeplan db roles apply`) on a real server: each role connects as
itself and is refused outside its grants; no app role can alter or disable the audit archive's
trigger; row-level security shows the reporting and tenant roles only their tenant's rows; the
orchestrator's role can run a saga start; applying twice changes nothing.

The module has a database of its own (the roles change ownership and enable row-level security) and
role names of its own (`r<hex>_...`: roles are shared by the whole server), dropped at the end."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.migrate import upgrade
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from infra.settings import Settings
from orchestrator import audit
from orchestrator.ports import SagaKind
from orchestrator.saga import daily_plan_definition
from orchestrator.service import Orchestrator
from orchestrator.stores.postgres import PostgresStores
from orchestrator.tables import audit_events, sagas
from tests.integration.db_roles_support import (
    TENANT_A,
    TENANT_B,
    TODAY,
    apply,
    count,
    engines,
    refused,
    roles_db,
)

pytestmark = pytest.mark.integration
__all__ = ["engines", "roles_db"]  # the module's fixtures
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)
APP_ROLES = ("orchestrator", "forecasting", "production", "procurement")


async def test_each_process_connects_as_its_own_role_without_special_powers(
    roles_db: Settings, engines: dict[str, AsyncEngine]
) -> None:
    for role, engine in engines.items():
        async with engine.connect() as conn:
            who = (
                await conn.execute(
                    text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
        assert tuple(who) == (f"{roles_db.db_role_prefix}{role}", False, False)


async def test_the_migrations_owner_owns_every_table_and_no_app_role_owns_one(
    roles_db: Settings, engines: dict[str, AsyncEngine]
) -> None:
    async with engines["owner"].connect() as conn:
        owners = set(
            (
                await conn.execute(
                    text(
                        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN"
                        " ('masterdata', 'orchestrator', 'forecasting', 'production', 'procurement')"
                        " OR (schemaname, tablename) = ('public', 'alembic_version')"
                    )
                )
            ).scalars()
        )
    assert owners == {roles_db.db_role_name("owner")}


@pytest.mark.parametrize(
    ("role", "statement", "why"),
    [
        (
            "forecasting",
            "INSERT INTO orchestrator.outbox (event_id, topic, message_key, event_type, payload)"
            " VALUES (gen_random_uuid(), 't', 'k', 'e', '')",
            "a worker writing the orchestrator's outbox",
        ),
        ("forecasting", "UPDATE orchestrator.sagas SET status = 'COMPLETED'", "a worker writing saga state"),
        ("production", "DELETE FROM forecasting.forecasts", "a worker writing another worker's results"),
        ("procurement", "SELECT count(*) FROM masterdata.suppliers", "a worker reading master data"),
        (
            "procurement",
            "INSERT INTO orchestrator.audit_events (event_id) VALUES (gen_random_uuid())",
            "a worker writing the audit archive",
        ),
        ("orchestrator", "DELETE FROM procurement.purchase_orders", "the orchestrator deleting purchase orders"),
        ("orchestrator", "UPDATE forecasting.forecasts SET units = 0", "the orchestrator writing a worker's results"),
    ],
    ids=lambda value: value if " " not in value else None,
)
async def test_a_component_is_refused_outside_its_grants(
    engines: dict[str, AsyncEngine], role: str, statement: str, why: str
) -> None:
    assert "permission denied" in await refused(engines[role], statement), why


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT INTO masterdata.tenants (tenant_id, name) VALUES ('{TENANT_A}-2', 'x')",
        "UPDATE masterdata.products SET name = 'x'",
        "DELETE FROM forecasting.forecasts",
        "UPDATE orchestrator.sagas SET status = 'FAILED'",
        "INSERT INTO orchestrator.outbox (event_id, topic, message_key, event_type, payload)"
        " VALUES (gen_random_uuid(), 't', 'k', 'e', '')",
        "SELECT count(*) FROM orchestrator.audit_events",
        "SELECT count(*) FROM orchestrator.inbox",
        "TRUNCATE procurement.purchase_lines",
        "CREATE TABLE masterdata.mine (x int)",
    ],
)
async def test_reporting_can_write_nothing(engines: dict[str, AsyncEngine], statement: str) -> None:
    assert "permission denied" in await refused(engines["reporting"], statement, tenant=TENANT_A)


@pytest.mark.parametrize("role", [*APP_ROLES, "retention", "reporting", "tenant"])
@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE orchestrator.audit_events DISABLE TRIGGER USER",
        "ALTER TABLE orchestrator.audit_events DISABLE TRIGGER audit_events_no_update_or_delete",
        "DROP TRIGGER audit_events_no_truncate ON orchestrator.audit_events",
        "ALTER TABLE orchestrator.audit_events OWNER TO CURRENT_USER",
        "CREATE OR REPLACE FUNCTION orchestrator.audit_events_append_only() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN OLD; END $$",
    ],
)
async def test_no_app_role_can_disable_or_drop_the_audit_archive_trigger(
    engines: dict[str, AsyncEngine], role: str, statement: str
) -> None:
    problem = await refused(engines[role], statement)
    assert "must be owner" in problem or "permission denied" in problem, problem


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE orchestrator.audit_events SET topic = 'x'",
        "DELETE FROM orchestrator.audit_events",
        "TRUNCATE orchestrator.audit_events",
        "DELETE FROM orchestrator.audit_chain_heads",
    ],
)
async def test_the_orchestrator_may_only_insert_and_read_the_audit_archive(
    engines: dict[str, AsyncEngine], statement: str
) -> None:
    # refused by the grants before the append-only trigger is even reached
    assert "permission denied" in await refused(engines["orchestrator"], statement)


async def test_the_orchestrator_role_runs_a_saga_start_and_archives_it(engines: dict[str, AsyncEngine]) -> None:
    """The grants suffice for real work: a trigger starts a saga (snapshot from master data, outbox,
    audit chain) entirely as the orchestrator's role, and its chain verifies as reporting cannot read it."""
    engine = engines["orchestrator"]
    definition = daily_plan_definition(
        step_timeout=timedelta(seconds=60), compensation_timeout=timedelta(seconds=30), max_compensation_attempts=3
    )
    orchestrator = Orchestrator(
        PostgresStores(engine, audit_keys=audit.DEV_AUDIT_KEYS), {SagaKind.DAILY: definition}, lambda: NOW, lambda: None
    )
    trigger = PlanningRequested(
        event_id=uuid.uuid4(), tenant_id=TENANT_A, occurred_at=NOW, business_date=TODAY, source="operator"
    )
    await orchestrator.start(trigger)
    saga_id = saga_id_for_trigger(trigger.event_id)
    async with engine.connect() as conn:
        status = (await conn.execute(select(sagas.c.status).where(sagas.c.saga_id == saga_id))).scalar_one()
        archived = (
            (await conn.execute(select(audit_events.c.key_id).where(audit_events.c.saga_id == saga_id))).scalars().all()
        )
        outcome = await audit.verify(conn, audit.DEV_AUDIT_KEYS, tenant_id=TENANT_A)
    assert status == "RUNNING"
    assert list(archived) == [audit.DEV_AUDIT_KEYS.key_id] * 3
    assert outcome.broken == []


RLS_TABLES = ["masterdata.tenants", "masterdata.products", "masterdata.stock_lots", "masterdata.suppliers"]


@pytest.mark.parametrize("role", ["reporting", "tenant"])
@pytest.mark.parametrize("table", RLS_TABLES)
async def test_row_level_security_shows_a_tenant_role_only_the_tenant_it_set(
    engines: dict[str, AsyncEngine], role: str, table: str
) -> None:
    engine = engines[role]
    of_tenant = f"SELECT count(*) FROM {table} WHERE tenant_id = :tenant"
    everything = f"SELECT count(*) FROM {table}"
    truth = await count(engines["orchestrator"], of_tenant, tenant=TENANT_A)  # an app role sees every tenant
    assert truth > 0
    assert await count(engines["orchestrator"], of_tenant, tenant=TENANT_B) > 0
    assert await count(engine, of_tenant, as_tenant=TENANT_A, tenant=TENANT_A) == truth
    assert await count(engine, of_tenant, as_tenant=TENANT_A, tenant=TENANT_B) == 0
    assert await count(engine, everything, as_tenant=TENANT_A) == truth
    assert await count(engine, everything) == 0  # app.tenant_id unset: nothing, not everything


async def test_the_tenant_role_cannot_write_rows_of_another_tenant(engines: dict[str, AsyncEngine]) -> None:
    engine = engines["tenant"]
    statement = f"INSERT INTO masterdata.tenants (tenant_id, name) VALUES ('{TENANT_B}-x', 'forged')"
    assert "row-level security" in await refused(engine, statement, tenant=TENANT_A)
    # its own tenant's rows it may change; another tenant's it cannot even see to update
    async with engine.begin() as conn:
        await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": TENANT_A})
        mine = await conn.execute(
            text("UPDATE masterdata.tenants SET name = name WHERE tenant_id = :t"), {"t": TENANT_A}
        )
        theirs = await conn.execute(
            text("UPDATE masterdata.tenants SET name = 'x' WHERE tenant_id = :t"), {"t": TENANT_B}
        )
    assert (mine.rowcount, theirs.rowcount) == (1, 0)


def privileges_query() -> str:
    return (
        "SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee LIKE :prefix ORDER BY 1, 2, 3, 4"
    )


def test_applying_the_roles_again_changes_nothing(roles_db: Settings) -> None:
    async def privileges() -> list[tuple[str, ...]]:
        engine = create_async_engine(roles_db.database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text(privileges_query()), {"prefix": f"{roles_db.db_role_prefix}%"})
                return [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    before = asyncio.run(privileges())
    env = {
        "DATABASE_URL": roles_db.database_url,
        "BAKEPLAN_DB_ROLES": "true",
        "BAKEPLAN_DB_ROLE_PREFIX": roles_db.db_role_prefix,
    }
    result = CliRunner().invoke(app, ["db", "roles", "apply", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert '"created": true' not in result.stdout
    assert asyncio.run(privileges()) == before
    granted = {(g, s, t, p) for g, s, t, p in before}
    name = roles_db.db_role_name
    assert (name("orchestrator"), "orchestrator", "audit_events", "INSERT") in granted
    assert (name("orchestrator"), "orchestrator", "audit_events", "UPDATE") not in granted
    assert not {g for g, s, *_ in before if s == "orchestrator" and g == name("forecasting")}
    assert {p for g, *_, p in before if g == name("reporting")} == {"SELECT"}


def test_migrations_in_role_mode_create_tables_owned_by_the_migrations_owner(roles_db: Settings) -> None:
    """`db upgrade` with BAKEPLAN_DB_ROLES runs under SET ROLE to the owner: tables a migration creates
    belong to it, not to the operator who connected. Last in the module: it re-creates tables."""
    from alembic import command

    from bakeplan.migrate import alembic_config

    command.downgrade(alembic_config(roles_db.model_copy(update={"db_roles": False})), "0008")
    upgrade(roles_db)  # 0009 re-creates the purchase-order tables

    async def owners() -> set[str]:
        engine = create_async_engine(roles_db.database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename LIKE 'purchase_order%'")
                )
                return set(rows.scalars())
        finally:
            await engine.dispose()

    assert asyncio.run(owners()) == {roles_db.db_role_name("owner")}
    asyncio.run(apply(roles_db))  # their grants and policies back, as `db upgrade` does
