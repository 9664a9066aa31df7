"""exactly-once effects: an effect log per component, compensations per worker, dead-letter replays

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

The effect log has no unique key on purpose: it counts every committed effect, so a duplicate that
a unique index absorbed elsewhere is still visible to the fault suite.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPONENTS = ('orchestrator', 'forecasting', 'production', 'procurement')
WORKERS = COMPONENTS[1:]


def _now() -> sa.TextClause:
    return sa.text('now()')


def upgrade() -> None:
    op.create_table('dead_letter_replays',
    sa.Column('dlt_partition', sa.Integer(), nullable=False),
    sa.Column('dlt_offset', sa.BigInteger(), nullable=False),
    sa.Column('source_topic', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=True),
    sa.Column('replayed_by', sa.String(length=200), nullable=False),
    sa.Column('replayed_at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
    sa.PrimaryKeyConstraint('dlt_partition', 'dlt_offset'),
    schema='orchestrator'
    )
    for schema in COMPONENTS:
        op.create_table('effect_log',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('consumer', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('saga_id', sa.UUID(), nullable=True),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.String(length=32), nullable=True),
        sa.Column('affected_rows', sa.Integer(), server_default='0', nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        schema=schema
        )
        op.create_index(f'ix_{schema}_effect_log_saga', 'effect_log', ['saga_id'], unique=False, schema=schema)
    for schema in WORKERS:
        op.create_table('compensations',
        sa.Column('saga_id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('reason', sa.Text(), server_default='', nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint('saga_id'),
        schema=schema
        )


def downgrade() -> None:
    for schema in WORKERS:
        op.drop_table('compensations', schema=schema)
    for schema in COMPONENTS:
        op.drop_index(f'ix_{schema}_effect_log_saga', table_name='effect_log', schema=schema)
        op.drop_table('effect_log', schema=schema)
    op.drop_table('dead_letter_replays', schema='orchestrator')
