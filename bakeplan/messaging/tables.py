"""Outbox and inbox tables; every component has its own pair in its own schema."""

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import UUID


def outbox_table(metadata: MetaData, schema: str) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(64), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index(f"ix_{schema}_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        schema=schema,
    )


def inbox_table(metadata: MetaData, schema: str) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )
