"""purchase orders: released by the saga's pivot step, with their lines, history and receipts

`purchase_orders` (one per supplier and delivery date a saga released, its status), `purchase_order_lines`
(what was ordered, confirmed and received; a purchase line is released at most once), the history of
every status change, the receipts booked (a receipt id once per order) and the sagas whose release was
compensated. All in the procurement schema (docs/orders.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:27:35
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('purchase_orders',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('saga_id', sa.UUID(), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('supplier_name', sa.String(length=200), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('delivery_date', sa.Date(), nullable=False),
    sa.Column('confirmed_delivery_date', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'po_number'),
    schema='procurement'
    )
    op.create_index(op.f('ix_procurement_purchase_orders_saga_id'), 'purchase_orders', ['saga_id'], unique=False, schema='procurement')
    op.create_index('ix_purchase_orders_tenant_status', 'purchase_orders', ['tenant_id', 'status'], unique=False, schema='procurement')
    op.create_table('release_compensations',
    sa.Column('saga_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('saga_id'),
    schema='procurement'
    )
    op.create_table('purchase_order_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'po_number'], ['procurement.purchase_orders.tenant_id', 'procurement.purchase_orders.po_number'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    schema='procurement'
    )
    op.create_index('ix_purchase_order_history_order', 'purchase_order_history', ['tenant_id', 'po_number', 'id'], unique=False, schema='procurement')
    op.create_table('purchase_order_lines',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.String(length=64), nullable=False),
    sa.Column('ingredient_id', sa.String(length=64), nullable=False),
    sa.Column('ingredient_name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('unit_price', sa.Float(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('confirmed_quantity', sa.Float(), nullable=True),
    sa.Column('received_quantity', sa.Float(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'po_number'], ['procurement.purchase_orders.tenant_id', 'procurement.purchase_orders.po_number'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'po_number', 'line_no'),
    schema='procurement'
    )
    op.create_index('uq_purchase_order_lines_line', 'purchase_order_lines', ['tenant_id', 'line_id'], unique=True, schema='procurement')
    op.create_table('purchase_order_receipts',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('receipt_id', sa.String(length=24), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'po_number'], ['procurement.purchase_orders.tenant_id', 'procurement.purchase_orders.po_number'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'po_number', 'receipt_id'),
    schema='procurement'
    )


def downgrade() -> None:
    op.drop_table('purchase_order_receipts', schema='procurement')
    op.drop_index('uq_purchase_order_lines_line', table_name='purchase_order_lines', schema='procurement')
    op.drop_table('purchase_order_lines', schema='procurement')
    op.drop_index('ix_purchase_order_history_order', table_name='purchase_order_history', schema='procurement')
    op.drop_table('purchase_order_history', schema='procurement')
    op.drop_table('release_compensations', schema='procurement')
    op.drop_index('ix_purchase_orders_tenant_status', table_name='purchase_orders', schema='procurement')
    op.drop_index(op.f('ix_procurement_purchase_orders_saga_id'), table_name='purchase_orders', schema='procurement')
    op.drop_table('purchase_orders', schema='procurement')
