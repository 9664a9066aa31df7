"""The Postgres delivery records inside a caller's transaction: recording a send commits or rolls back
with whatever else the caller writes (the PO's lifecycle, an alert in its outbox)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.channels.deliveries_schema import private_deliveries_table
from workers.procurement.channels import DeliveryKey, DeliveryStatus, EmailTarget, SendOutcome, SupplierChannel
from workers.procurement.channels.postgres import PostgresDeliveries
from workers.procurement.channels.tables import po_deliveries

pytestmark = pytest.mark.integration
CHANNEL = SupplierChannel(tenant_id="t1", supplier_id="s1", target=EmailTarget(to=("orders@s1.example",)))
SENT = SendOutcome(DeliveryStatus.SENT, attempts=1, receipt="250 OK")
AT = datetime(2026, 11, 28, 6, tzinfo=UTC)


class CallerWriteError(Exception):
    """The caller's next write in the same transaction failed."""


async def test_a_record_in_the_callers_transaction_commits_and_rolls_back_with_it(engine: AsyncEngine) -> None:
    async with private_deliveries_table(engine) as table:
        rolled_back, committed = DeliveryKey("t1", "PO-1", CHANNEL.key), DeliveryKey("t1", "PO-2", CHANNEL.key)

        async def record_then_fail() -> None:
            async with engine.begin() as conn:
                recorded = await PostgresDeliveries(conn, table=table).record(rolled_back, SENT, channel=CHANNEL, at=AT)
                assert recorded.changed
                raise CallerWriteError

        with pytest.raises(CallerWriteError):
            await record_then_fail()
        async with engine.begin() as conn:
            await PostgresDeliveries(conn, table=table).record(committed, SENT, channel=CHANNEL, at=AT)
        outside = PostgresDeliveries(engine, table=table)
        assert await outside.find(rolled_back) is None
        stored = await outside.find(committed)
        assert stored is not None
        assert stored.status is DeliveryStatus.SENT
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(table)) == 1


def test_the_production_table_is_declared_in_the_procurement_schema() -> None:
    assert po_deliveries.fullname == "procurement.po_deliveries"
    assert [c.name for c in po_deliveries.primary_key] == ["tenant_id", "po_number", "channel_key"]
