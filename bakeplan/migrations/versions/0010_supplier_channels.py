"""supplier channels: the delivery record of each purchase order on its channel, and each supplier's channel

`po_deliveries` (one row per order and channel: `sending` before a send, `sent` or `send_failed`
after it, with attempts, sends, the supplier side's receipt or the last error) and `supplier_channels`
(where a tenant's supplier takes its orders, a SupplierChannel as JSON). Both in the procurement
schema (docs/channels.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 04:18:08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('po_deliveries',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('po_number', sa.String(length=64), nullable=False),
    sa.Column('channel_key', sa.String(length=64), nullable=False),
    sa.Column('channel_kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('receipt', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('permanent', sa.Boolean(), nullable=False),
    sa.Column('first_recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name='po_deliveries_sent_at'),
    sa.CheckConstraint("status IN ('sending', 'sent', 'send_failed')", name='po_deliveries_status'),
    sa.PrimaryKeyConstraint('tenant_id', 'po_number', 'channel_key'),
    schema='procurement'
    )
    op.create_table('supplier_channels',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('channel', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'supplier_id'),
    schema='procurement'
    )


def downgrade() -> None:
    op.drop_table('supplier_channels', schema='procurement')
    op.drop_table('po_deliveries', schema='procurement')
