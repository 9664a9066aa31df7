"""live feeds (each store's closed sales days) and the tenant's currency

`store_sales` keeps what each `sales.day_closed` event said of one store's day, so a corrected or
re-sent day replaces that store's figures in `daily_sales` instead of adding them twice. Tenants get
an ISO 4217 `currency` (EUR for the tenants that exist).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('store_sales',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('store_id', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['masterdata.tenants.tenant_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'store_id', 'day', 'product_id'),
    schema='masterdata'
    )
    op.add_column('tenants', sa.Column('currency', sa.String(length=3), server_default='EUR', nullable=False), schema='masterdata')


def downgrade() -> None:
    op.drop_column('tenants', 'currency', schema='masterdata')
    op.drop_table('store_sales', schema='masterdata')
