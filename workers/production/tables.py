"""The production worker's schema."""

from sqlalchemy import Column, Date, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from infra.messaging.tables import (
    compensations_table,
    delivery_attempts_table,
    effect_log_table,
    inbox_table,
    outbox_table,
)
from workers.shell.results import RESULT_PAGE_ROOM

SCHEMA = "production"
metadata = MetaData(schema=SCHEMA)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("saga_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("tenant_id", String(64), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("batches", Integer, nullable=False),
    Column("units", Integer, nullable=False),
    Column("oven_minutes", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reasoning", JSONB(none_as_null=True)),  # a `Reasoning` as JSON; NULL for batches planned before it existed
    Column("status", String(16), nullable=False),
    Index("ix_batches_tenant_day", "tenant_id", "day"),
    postgresql_with=RESULT_PAGE_ROOM,
)
requirements = Table(
    "requirements",
    metadata,
    Column("saga_id", UUID(as_uuid=True), primary_key=True),
    Column("ingredient_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("quantity_sd", Float),
    Column("status", String(16), nullable=False),
    postgresql_with=RESULT_PAGE_ROOM,
)
outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
delivery_attempts = delivery_attempts_table(metadata, SCHEMA)
effect_log = effect_log_table(metadata, SCHEMA)
compensations = compensations_table(metadata, SCHEMA)
