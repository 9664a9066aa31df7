"""The delivery records in Postgres (`tables.po_deliveries`), the `Deliveries` port's production adapter.

`record` is one `INSERT … ON CONFLICT DO UPDATE … WHERE status <> 'sent'`: atomic under concurrent
dispatchers, and a sent row is never updated. Built on an engine, each call is its own transaction;
built on a connection (`PostgresDeliveries(conn)`), it runs in the caller's transaction, so recording
a send and moving the PO's lifecycle (or queueing an alert in the outbox) commit together.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from workers.procurement.channels.config import SupplierChannel
from workers.procurement.channels.deliveries import Delivery, DeliveryKey, Recorded
from workers.procurement.channels.sending import DeliveryStatus, SendOutcome
from workers.procurement.channels.tables import po_deliveries


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(
        key=DeliveryKey(row["tenant_id"], row["po_number"], row["channel_key"]),
        channel_kind=row["channel_kind"],
        target=row["target"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        sends=row["sends"],
        receipt=row["receipt"],
        last_error=row["last_error"],
        permanent=row["permanent"],
        first_recorded_at=row["first_recorded_at"],
        recorded_at=row["recorded_at"],
        sent_at=row["sent_at"],
    )


class PostgresDeliveries:
    def __init__(self, db: AsyncEngine | AsyncConnection, *, table: Table = po_deliveries) -> None:
        self._db = db
        self._table = table

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        if isinstance(self._db, AsyncConnection):
            yield self._db  # the caller's transaction
            return
        async with self._db.begin() as conn:
            yield conn

    def _where(self, key: DeliveryKey) -> list[Any]:
        c = self._table.c
        return [c.tenant_id == key.tenant_id, c.po_number == key.po_number, c.channel_key == key.channel_key]

    async def find(self, key: DeliveryKey) -> Delivery | None:
        async with self._connection() as conn:
            row = (await conn.execute(select(self._table).where(*self._where(key)))).mappings().first()
        return _delivery(row) if row else None

    async def begin(self, key: DeliveryKey, *, channel: SupplierChannel, at: datetime) -> Recorded:
        c = self._table.c
        insert_row = insert(self._table).values(
            tenant_id=key.tenant_id,
            po_number=key.po_number,
            channel_key=key.channel_key,
            channel_kind=channel.kind,
            target=channel.describe(),
            status=DeliveryStatus.SENDING.value,
            attempts=0,
            sends=0,
            permanent=False,
            first_recorded_at=at,
            recorded_at=at,
        )
        new = insert_row.excluded
        upsert = insert_row.on_conflict_do_update(
            index_elements=[c.tenant_id, c.po_number, c.channel_key],
            set_={
                "channel_kind": new.channel_kind,
                "target": new.target,
                "status": new.status,
                "receipt": None,
                "permanent": False,
                "recorded_at": new.recorded_at,
            },
            where=c.status != DeliveryStatus.SENT.value,
        ).returning(*self._table.c)
        async with self._connection() as conn:
            row = (await conn.execute(upsert)).mappings().first()
            if row is not None:
                return Recorded(_delivery(row), changed=True)
            stored = (await conn.execute(select(self._table).where(*self._where(key)))).mappings().one()
        return Recorded(_delivery(stored), changed=False)

    async def record(
        self, key: DeliveryKey, outcome: SendOutcome, *, channel: SupplierChannel, at: datetime
    ) -> Recorded:
        c = self._table.c
        insert_row = insert(self._table).values(
            tenant_id=key.tenant_id,
            po_number=key.po_number,
            channel_key=key.channel_key,
            channel_kind=channel.kind,
            target=channel.describe(),
            status=outcome.status.value,
            attempts=outcome.attempts,
            sends=1,
            receipt=outcome.receipt,
            last_error=outcome.last_error,
            permanent=outcome.permanent,
            first_recorded_at=at,
            recorded_at=at,
            sent_at=at if outcome.sent else None,
        )
        new = insert_row.excluded
        upsert = insert_row.on_conflict_do_update(
            index_elements=[c.tenant_id, c.po_number, c.channel_key],
            set_={
                "channel_kind": new.channel_kind,
                "target": new.target,
                "status": new.status,
                "attempts": c.attempts + new.attempts,
                "sends": c.sends + 1,
                "receipt": new.receipt,
                "last_error": new.last_error,
                "permanent": new.permanent,
                "recorded_at": new.recorded_at,
                "sent_at": new.sent_at,
            },
            where=c.status != DeliveryStatus.SENT.value,
        ).returning(*self._table.c)
        async with self._connection() as conn:
            row = (await conn.execute(upsert)).mappings().first()
            if row is not None:
                return Recorded(_delivery(row), changed=True)
            stored = (await conn.execute(select(self._table).where(*self._where(key)))).mappings().one()
        return Recorded(_delivery(stored), changed=False)
