"""The procurement worker's schema."""

from sqlalchemy import Boolean, Column, Date, Float, Index, MetaData, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from infra.messaging.tables import (
    compensations_table,
    delivery_attempts_table,
    effect_log_table,
    inbox_table,
    outbox_table,
)

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
    # low_stock: planned by a procurement-only saga (docs/low_stock.md); emergency: must be ordered now
    Column("purpose", String(16), nullable=False, server_default="daily"),
    Column("emergency", Boolean, nullable=False, server_default="false"),
    Index("ix_purchase_lines_tenant_order", "tenant_id", "order_date"),
    # at most one open low-stock line per tenant × ingredient × supplier × delivery date
    Index(
        "uq_purchase_lines_one_open_low_stock_slot",
        "tenant_id",
        "ingredient_id",
        "supplier_id",
        "delivery_date",
        unique=True,
        postgresql_where=text("purpose = 'low_stock' AND status IN ('draft', 'active')"),
    ),
)
outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
delivery_attempts = delivery_attempts_table(metadata, SCHEMA)
effect_log = effect_log_table(metadata, SCHEMA)
compensations = compensations_table(metadata, SCHEMA)
