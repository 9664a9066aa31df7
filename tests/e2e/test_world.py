"""`bakeplan world`'s driver in short (docs/world.md): the simulation's world lives three days against the
real processes, each its own OS process on their own topics, on the clock the world drives. Every
morning's plan completes on the simulated day, every released order reaches its supplier's file drop
exactly once and is recorded sent once, what arrived is booked as received, and no open line is
missing from a later plan's supply (a need ordered twice). The full run (28 days, 3 standard tenants)
and its figures next to the offline simulation are in docs/world.md."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.cli.acl import provision, unprovision
from bakeplan.roles.clock import set_clock
from bakeplan.world import MORNING, LiveWorld
from infra.settings import Settings
from lab.simulation.live import LiveTenant, file_drop_channels, live_truth, open_tenant
from lab.simulation.simulator import DEFAULT_START
from lab.simulation.truth import synthetic_truth
from tests.admin_sql import admin_sql
from tests.e2e.processes import Processes
from workers.procurement.channels.directory import save_channels
from workers.purchase_orders.tables import purchase_orders

pytestmark = pytest.mark.e2e
DAYS = 3


async def test_the_world_lives_three_days_on_the_live_stack(settings: Settings, tmp_path: Path) -> None:
    # its own topics and database: the shared processes run on the wall clock, and their scans (deadlines,
    # schedules) would act on the world's sagas in a shared database
    name = f"world_e2e_{uuid4().hex[:10]}"
    await admin_sql(settings.database_url, f'CREATE DATABASE "{name}"')
    own = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}w{uuid4().hex[:6]}.",
            "database_url": make_url(settings.database_url).set(database=name).render_as_string(hide_password=False),
        }
    )
    upgraded = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["db", "upgrade"],
        env={"DATABASE_URL": own.database_url, "BAKEPLAN_DATABASE_URL": own.database_url},
    )
    assert upgraded.exit_code == 0, upgraded.output
    engine = create_async_engine(own.database_url)
    secure = own.kafka_security_protocol != "PLAINTEXT"
    if secure:
        await asyncio.to_thread(provision, own)
    clock_file, drop_root = tmp_path / "clock", tmp_path / "drop"
    seed = 3
    truth = live_truth(
        synthetic_truth(profile="small", seed=seed, days=DAYS, start=DEFAULT_START), f"w{uuid4().hex[:8]}-1"
    )
    tenant = open_tenant(truth, seed)
    for ingredient in truth.ingredients:  # an empty store: the first morning must order, whatever the forecast
        tenant.world.consume(ingredient.ingredient_id, tenant.world.on_hand(ingredient.ingredient_id))
    set_clock(clock_file, datetime.combine(DEFAULT_START, MORNING, UTC))
    driver = LiveWorld(own, engine, [tenant], clock_file=clock_file, drop_root=drop_root, timeout_s=120)
    await driver.seed()
    channels = file_drop_channels([tenant])
    for channel in channels:
        (drop_root / channel.tenant_id / channel.supplier_id).mkdir(parents=True)
    async with engine.begin() as conn:
        await save_channels(conn, channels, at=datetime.now(UTC))
    processes = Processes(
        own,
        tmp_path,
        env={
            "BAKEPLAN_CLOCK_FILE": str(clock_file),
            "BAKEPLAN_FILE_DROP_ROOT": str(drop_root),
            "DATABASE_URL": own.database_url,
        },
        BAKEPLAN_TRIGGER_MAX_PAST_DAYS="1",  # the production window: the processes' today is the world's
    )
    try:
        processes.start_all()
        processes.start("channels")
        await driver.run(DAYS)
    finally:
        processes.stop_all()
        if secure:
            await asyncio.to_thread(unprovision, own)

    try:
        await _check(driver, tenant, engine, drop_root, seed)
    finally:
        await engine.dispose()
        await admin_sql(settings.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _check(driver: LiveWorld, tenant: LiveTenant, engine: AsyncEngine, drop_root: Path, seed: int) -> None:
    truth = tenant.truth

    sent_once = await driver.sent_once(tenant)
    assert len(tenant.sagas) == DAYS  # each morning's plan COMPLETED (the driver raises otherwise)
    assert tenant.released > 0
    assert sent_once == tenant.released
    dropped = sorted(p.stem for p in await asyncio.to_thread(lambda: list(drop_root.rglob("*.csv"))))
    async with engine.connect() as conn:
        orders = (
            await conn.execute(
                select(purchase_orders.c.po_number, purchase_orders.c.order_date, purchase_orders.c.status).where(
                    purchase_orders.c.tenant_id == truth.tenant_id
                )
            )
        ).all()
        received = await conn.scalar(
            select(func.count())
            .select_from(purchase_orders)
            .where(purchase_orders.c.tenant_id == truth.tenant_id, purchase_orders.c.status == "received")
        )
    assert dropped == sorted(o.po_number for o in orders)
    # released on the world's days, not the wall clock's: the processes read the clock file
    days = {DEFAULT_START + timedelta(days=n) for n in range(DAYS)}
    assert {o.order_date for o in orders} <= days
    # what arrived was booked: every order the world no longer has on its way is received
    on_the_way = {po for po, _ in tenant.shipped.values()}
    assert received == len([o for o in orders if o.po_number not in on_the_way])
    assert tenant.uncounted_supply == 0
    report = tenant.ledger.report(policy="bakeplan", days=DAYS, seed=seed, profile="small")
    assert report.orders > 0
