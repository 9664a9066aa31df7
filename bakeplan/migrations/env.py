"""Alembic environment: every component's schema, one migration history."""

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bakeplan.console import tables as console_tables
from infra.messaging.tables import claims_metadata
from orchestrator import masterdata
from orchestrator import tables as orchestrator_tables
from workers.forecasting import tables as forecasting_tables
from workers.procurement import tables as procurement_tables
from workers.procurement.channels import tables as channel_tables
from workers.production import tables as production_tables
from workers.purchase_orders import tables as purchase_order_tables

TARGET_METADATA = [
    masterdata.metadata,
    orchestrator_tables.metadata,
    forecasting_tables.metadata,
    production_tables.metadata,
    procurement_tables.metadata,  # with the supplier channels' tables
    purchase_order_tables.metadata,
    claims_metadata,
    console_tables.metadata,
]
assert channel_tables.metadata is procurement_tables.metadata
SCHEMAS = {m.schema for m in TARGET_METADATA}


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return name in SCHEMAS if type_ == "schema" else True


def _run(connection: Connection) -> None:
    owner = context.config.attributes.get("owner_role")
    if owner and connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": owner}).first():
        # objects the migrations create belong to the migrations owner (bakeplan/db_roles.py)
        connection.execute(text(f'SET ROLE "{owner}"'))  # for the session: it outlives the commit below
    if owner:
        connection.commit()  # end the autobegun transaction, so that Alembic's own one commits the migrations
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


asyncio.run(_run_async())
