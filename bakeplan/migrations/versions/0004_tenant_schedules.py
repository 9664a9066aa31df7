"""tenant schedules: each tenant's daily run time, zone, cut-off, closed days, pause; one decision per
tenant and business date

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:17:25.633983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('schedule_decisions',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('trigger_event_id', sa.UUID(), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'business_date'),
    schema='orchestrator'
    )
    op.create_table('schedules',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('run_at', sa.Time(), nullable=False),
    sa.Column('cutoff', sa.Time(), nullable=False),
    sa.Column('closed_weekdays', sa.ARRAY(sa.SmallInteger()), server_default='{}', nullable=False),
    sa.Column('closed_dates', sa.ARRAY(sa.Date()), server_default='{}', nullable=False),
    sa.Column('paused', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('last_decided', sa.Date(), nullable=True),
    sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id'),
    schema='orchestrator'
    )
    op.create_index('ix_schedules_next_due', 'schedules', ['next_due_at'], unique=False, schema='orchestrator')


def downgrade() -> None:
    op.drop_index('ix_schedules_next_due', table_name='schedules', schema='orchestrator')
    op.drop_table('schedules', schema='orchestrator')
    op.drop_table('schedule_decisions', schema='orchestrator')
