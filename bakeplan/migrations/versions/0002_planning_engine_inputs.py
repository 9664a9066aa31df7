"""planning engine inputs and outputs: supplier terms, components, capacity, policy, open orders,
regressors; forecast quantiles, plan reasoning, requirement uncertainty

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Every added column is nullable or has a server default equal to the contract default, so rows
written at 0001 stay valid and read as the contract's defaults.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MD = 'masterdata'


def _tenant_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['tenant_id'], ['masterdata.tenants.tenant_id'], ondelete='CASCADE')


def _key(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64), nullable=False)


def upgrade() -> None:
    # master data: new fields of existing contracts
    op.add_column('tenants', sa.Column('capacity', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False), schema=MD)
    op.add_column('tenants', sa.Column('policy', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False), schema=MD)
    op.add_column('products', sa.Column('salvage_value', sa.Float(), server_default=sa.text('0.0'), nullable=False), schema=MD)
    op.add_column('recipes', sa.Column('mixer_minutes_per_batch', sa.Integer(), server_default=sa.text('0'), nullable=False), schema=MD)
    op.add_column('ingredients', sa.Column('service_level', sa.Float(), nullable=True), schema=MD)
    op.add_column('suppliers', sa.Column('delivery_weekdays', postgresql.ARRAY(sa.SmallInteger()), server_default=sa.text("'{0,1,2,3,4,5,6}'::smallint[]"), nullable=False), schema=MD)
    op.add_column('suppliers', sa.Column('order_cutoff', sa.Time(), nullable=True), schema=MD)
    op.add_column('suppliers', sa.Column('min_order_value', sa.Float(), server_default=sa.text('0.0'), nullable=False), schema=MD)
    op.add_column('suppliers', sa.Column('order_cost', sa.Float(), server_default=sa.text('0.0'), nullable=False), schema=MD)
    op.add_column('suppliers', sa.Column('on_time_rate', sa.Float(), server_default=sa.text('1.0'), nullable=False), schema=MD)
    op.add_column('suppliers', sa.Column('quality_score', sa.Float(), server_default=sa.text('1.0'), nullable=False), schema=MD)
    op.add_column('supplier_items', sa.Column('max_quantity', sa.Float(), nullable=True), schema=MD)
    op.add_column('supplier_items', sa.Column('lead_time_sd_days', sa.Float(), server_default=sa.text('0.0'), nullable=False), schema=MD)
    op.add_column('supplier_items', sa.Column('price_tiers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False), schema=MD)

    # master data: new contracts
    op.create_table('recipe_components',
    _key('tenant_id'), _key('product_id'), _key('component_id'),
    sa.Column('quantity_per_batch', sa.Float(), nullable=False),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'product_id', 'component_id'),
    schema=MD
    )
    op.create_table('components',
    _key('tenant_id'), _key('component_id'),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('batch_yield', sa.Float(), nullable=False),
    sa.Column('made_days_ahead', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('mixer_minutes_per_batch', sa.Integer(), server_default=sa.text('0'), nullable=False),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'component_id'),
    schema=MD
    )
    op.create_table('component_lines',
    _key('tenant_id'), _key('component_id'), _key('ingredient_id'),
    sa.Column('quantity_per_batch', sa.Float(), nullable=False),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'component_id', 'ingredient_id'),
    schema=MD
    )
    op.create_table('component_components',
    _key('tenant_id'), _key('parent_id'), _key('component_id'),
    sa.Column('quantity_per_batch', sa.Float(), nullable=False),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'parent_id', 'component_id'),
    schema=MD
    )
    op.create_table('open_purchase_orders',
    _key('tenant_id'), _key('order_id'),
    sa.Column('supplier_id', sa.String(length=64), nullable=False),
    sa.Column('ingredient_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('delivery_date', sa.Date(), nullable=False),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'order_id'),
    schema=MD
    )
    op.create_table('regressors',
    _key('tenant_id'), _key('name'),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    _tenant_fk(),
    sa.PrimaryKeyConstraint('tenant_id', 'name', 'day'),
    schema=MD
    )

    # results: quantiles, reasoning, requirement uncertainty
    op.add_column('forecasts', sa.Column('p10', sa.Float(), nullable=True), schema='forecasting')
    op.add_column('forecasts', sa.Column('p50', sa.Float(), nullable=True), schema='forecasting')
    op.add_column('forecasts', sa.Column('p90', sa.Float(), nullable=True), schema='forecasting')
    op.add_column('forecasts', sa.Column('model', sa.String(length=100), server_default='', nullable=False), schema='forecasting')
    op.add_column('batches', sa.Column('reasoning', postgresql.JSONB(astext_type=sa.Text()), nullable=True), schema='production')
    op.add_column('requirements', sa.Column('quantity_sd', sa.Float(), nullable=True), schema='production')
    op.add_column('purchase_lines', sa.Column('reasoning', postgresql.JSONB(astext_type=sa.Text()), nullable=True), schema='procurement')


def downgrade() -> None:
    op.drop_column('purchase_lines', 'reasoning', schema='procurement')
    op.drop_column('requirements', 'quantity_sd', schema='production')
    op.drop_column('batches', 'reasoning', schema='production')
    for column in ('model', 'p90', 'p50', 'p10'):
        op.drop_column('forecasts', column, schema='forecasting')
    for table in ('regressors', 'open_purchase_orders', 'component_components', 'component_lines', 'components', 'recipe_components'):
        op.drop_table(table, schema=MD)
    for table, column in (
        ('supplier_items', 'price_tiers'), ('supplier_items', 'lead_time_sd_days'), ('supplier_items', 'max_quantity'),
        ('suppliers', 'quality_score'), ('suppliers', 'on_time_rate'), ('suppliers', 'order_cost'),
        ('suppliers', 'min_order_value'), ('suppliers', 'order_cutoff'), ('suppliers', 'delivery_weekdays'),
        ('ingredients', 'service_level'), ('recipes', 'mixer_minutes_per_batch'), ('products', 'salvage_value'),
        ('tenants', 'policy'), ('tenants', 'capacity'),
    ):
        op.drop_column(table, column, schema=MD)
