"""low-stock signals, saga kinds, purchase line purpose and emergency flag

Invariant 5's index now covers daily sagas only (autogenerate does not see a changed WHERE clause, so
it is re-created by hand); one running low-stock saga per tenant; one open low-stock line per slot.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 16:25:33.166717
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('low_stock_signals',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('ingredient_id', sa.String(length=64), nullable=False),
    sa.Column('quantity_on_hand', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('saga_id', sa.UUID(), nullable=True),
    sa.PrimaryKeyConstraint('event_id'),
    schema='orchestrator'
    )
    op.create_index('ix_low_stock_signals_pending', 'low_stock_signals', ['tenant_id', 'received_at'], unique=False, schema='orchestrator', postgresql_where=sa.text('saga_id IS NULL'))
    op.create_index('ix_low_stock_signals_saga', 'low_stock_signals', ['saga_id'], unique=False, schema='orchestrator')
    op.add_column('sagas', sa.Column('kind', sa.String(length=16), server_default='daily', nullable=False), schema='orchestrator')
    op.drop_index('uq_sagas_one_plan_per_day', table_name='sagas', schema='orchestrator')
    op.create_index('uq_sagas_one_plan_per_day', 'sagas', ['tenant_id', 'business_date'], unique=True, schema='orchestrator', postgresql_where=sa.text("kind = 'daily' AND status IN ('RUNNING', 'COMPENSATING', 'COMPLETED')"))
    op.create_index('uq_sagas_one_running_low_stock', 'sagas', ['tenant_id'], unique=True, schema='orchestrator', postgresql_where=sa.text("kind = 'low_stock' AND status IN ('RUNNING', 'COMPENSATING')"))
    op.add_column('purchase_lines', sa.Column('purpose', sa.String(length=16), server_default='daily', nullable=False), schema='procurement')
    op.add_column('purchase_lines', sa.Column('emergency', sa.Boolean(), server_default='false', nullable=False), schema='procurement')
    op.create_index('uq_purchase_lines_one_open_low_stock_slot', 'purchase_lines', ['tenant_id', 'ingredient_id', 'supplier_id', 'delivery_date'], unique=True, schema='procurement', postgresql_where=sa.text("purpose = 'low_stock' AND status IN ('draft', 'active')"))


def downgrade() -> None:
    op.drop_index('uq_purchase_lines_one_open_low_stock_slot', table_name='purchase_lines', schema='procurement', postgresql_where=sa.text("purpose = 'low_stock' AND status IN ('draft', 'active')"))
    op.drop_column('purchase_lines', 'emergency', schema='procurement')
    op.drop_column('purchase_lines', 'purpose', schema='procurement')
    op.drop_index('uq_sagas_one_running_low_stock', table_name='sagas', schema='orchestrator', postgresql_where=sa.text("kind = 'low_stock' AND status IN ('RUNNING', 'COMPENSATING')"))
    op.drop_index('uq_sagas_one_plan_per_day', table_name='sagas', schema='orchestrator')
    # low-stock sagas would break the old index: a downgrade keeps only the daily sagas' history
    op.execute("DELETE FROM orchestrator.sagas WHERE kind <> 'daily'")
    op.create_index('uq_sagas_one_plan_per_day', 'sagas', ['tenant_id', 'business_date'], unique=True, schema='orchestrator', postgresql_where=sa.text("status IN ('RUNNING', 'COMPENSATING', 'COMPLETED')"))
    op.drop_column('sagas', 'kind', schema='orchestrator')
    op.drop_index('ix_low_stock_signals_saga', table_name='low_stock_signals', schema='orchestrator')
    op.drop_index('ix_low_stock_signals_pending', table_name='low_stock_signals', schema='orchestrator', postgresql_where=sa.text('saga_id IS NULL'))
    op.drop_table('low_stock_signals', schema='orchestrator')
