"""console: its users and the audit of their actions

Schema `console`: `users` (argon2 password hash, role viewer|operator, granted tenants) and `actions`
(every operator action and login through the console, with its outcome; docs/console.md).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute('CREATE SCHEMA IF NOT EXISTS console')
    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('tenants', postgresql.ARRAY(sa.String(length=64)), server_default='{}', nullable=False),
    sa.Column('all_tenants', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('username'),
    schema='console'
    )
    op.create_table('actions',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=True),
    sa.Column('target', sa.Text(), server_default='', nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='console'
    )
    op.create_index('ix_console_actions_at', 'actions', ['at'], unique=False, schema='console')


def downgrade() -> None:
    op.drop_index('ix_console_actions_at', table_name='actions', schema='console')
    op.drop_table('actions', schema='console')
    op.drop_table('users', schema='console')
    op.execute('DROP SCHEMA IF EXISTS console')
