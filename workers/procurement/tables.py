"""The procurement worker's schema."""

from sqlalchemy import Boolean, Column, Date, Float, Index, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from bakeplan.messaging.tables import compensations_table, effect_log_table, inbox_table, outbox_table

SCHEMA = "procurement"
metadata = MetaData(schema=SCHEMA)

purchase_lines = Table(
    "purchase_lines",
    metadata,
    Column("line_id", String(36), primary_key=True),
    Column("saga_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("tenant_id", String(64), nullable=False),
    Column("supplier_id", String(64), nullable=False),
    Column("ingredient_id", String(64), nullable=False),
    Column("order_date", Date, nullable=False),
    Column("delivery_date", Date, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reasoning", JSONB(none_as_null=True)),  # a `Reasoning` as JSON; NULL for lines planned before it existed
    Column("status", String(16), nullable=False),
    Index("ix_purchase_lines_tenant_order", "tenant_id", "order_date"),
)
outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
effect_log = effect_log_table(metadata, SCHEMA)
compensations = compensations_table(metadata, SCHEMA)
