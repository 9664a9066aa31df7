"""Purchase orders in the procurement schema (migration 0009).

`purchase_orders` holds one row per released order with its status; `purchase_order_lines` its lines
with what was confirmed and received; `purchase_order_history` every status change (time, source,
note); `purchase_order_receipts` each delivery booked (its receipt id is unique per order, so the same
delivery note twice books once); `release_compensations` the sagas whose release was compensated.
"""

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from infra.messaging.tables import compensations_table

SCHEMA = "procurement"
metadata = MetaData(schema=SCHEMA)


def _order_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "po_number"],
        [f"{SCHEMA}.purchase_orders.tenant_id", f"{SCHEMA}.purchase_orders.po_number"],
        ondelete="CASCADE",
    )


purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("po_number", String(64), primary_key=True),
    Column("saga_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("supplier_id", String(64), nullable=False),
    Column("supplier_name", String(200), nullable=False),
    Column("order_date", Date, nullable=False),
    Column("delivery_date", Date, nullable=False),
    Column("confirmed_delivery_date", Date),
    Column("currency", String(3), nullable=False),
    Column("total", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("document", JSONB, nullable=False),  # the PurchaseOrder as released (contracts/purchasing.py)
    Index("ix_purchase_orders_tenant_status", "tenant_id", "status"),
)
purchase_order_lines = Table(
    "purchase_order_lines",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("po_number", String(64), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("line_id", String(64), nullable=False),
    Column("ingredient_id", String(64), nullable=False),
    Column("ingredient_name", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("amount", Float, nullable=False),
    Column("confirmed_quantity", Float),
    Column("received_quantity", Float, nullable=False, server_default=text("0")),
    _order_fk(),
    # a purchase line is released at most once: no need is ordered twice through the same line
    Index("uq_purchase_order_lines_line", "tenant_id", "line_id", unique=True),
)
purchase_order_history = Table(
    "purchase_order_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("po_number", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("from_status", String(16)),  # NULL: the release that created the order
    Column("to_status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("event_id", UUID(as_uuid=True)),
    _order_fk(),
    Index("ix_purchase_order_history_order", "tenant_id", "po_number", "id"),
)
purchase_order_receipts = Table(
    "purchase_order_receipts",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("po_number", String(64), primary_key=True),
    Column("receipt_id", String(24), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("lines", JSONB, nullable=False),  # [{line_id, quantity, lot_id, expires_on}] as booked
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    _order_fk(),
)
release_compensations = compensations_table(metadata, SCHEMA, name="release_compensations")
