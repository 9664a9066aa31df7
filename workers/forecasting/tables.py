"""The forecasting worker's schema."""

from sqlalchemy import Column, Date, Float, Index, MetaData, String, Table
from sqlalchemy.dialects.postgresql import UUID

from infra.messaging.tables import (
    compensations_table,
    delivery_attempts_table,
    effect_log_table,
    inbox_table,
    outbox_table,
)
from workers.shell.results import RESULT_PAGE_ROOM

SCHEMA = "forecasting"
metadata = MetaData(schema=SCHEMA)

forecasts = Table(
    "forecasts",
    metadata,
    Column("saga_id", UUID(as_uuid=True), primary_key=True),
    Column("product_id", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("units", Float, nullable=False),
    # Quantiles and the chosen model's name: NULL / '' for rows planned before they existed.
    Column("p10", Float),
    Column("p50", Float),
    Column("p90", Float),
    Column("model", String(100), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Index("ix_forecasts_tenant_day", "tenant_id", "day"),
    postgresql_with=RESULT_PAGE_ROOM,
)
outbox = outbox_table(metadata, SCHEMA)
inbox = inbox_table(metadata, SCHEMA)
delivery_attempts = delivery_attempts_table(metadata, SCHEMA)
effect_log = effect_log_table(metadata, SCHEMA)
compensations = compensations_table(metadata, SCHEMA)
