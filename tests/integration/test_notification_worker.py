"""`NotificationWorker` against real Postgres with a scripted sender: the plan summary read from the
procurement schema matches the released orders; a tenant without a target is claimed and nothing is
sent; a send is claimed after it happens, so a redelivery sends nothing; a send that fails after its
retries is logged at ERROR, counted and claimed (no crash loop)."""

import asyncio
import logging
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from contracts.messages import PlanReady, SagaFailedAlert
from infra.db import create_engine
from infra.settings import Settings
from tests.integration.test_orders_cli import TODAY, released
from workers.procurement.channels.config import EmailTarget, TenantNotifications
from workers.procurement.channels.directory import save_notifications
from workers.procurement.channels.notices import Notice
from workers.procurement.channels.sending import DeliveryStatus, SendOutcome
from workers.procurement.notify_handler import NOTIFY_CONSUMER, NotificationWorker
from workers.procurement.tables import effect_log
from workers.purchase_orders.tables import purchase_orders

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def test_summaries_are_sent_once_skipped_without_a_target_and_failures_never_loop(
    db_settings: Settings, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    orders = released(db_settings, tenant_id)
    sent: list[Notice] = []
    counted: list[tuple[str, str]] = []
    outcomes = [
        SendOutcome(DeliveryStatus.SENT, 1, receipt="250 OK"),
        SendOutcome(DeliveryStatus.SEND_FAILED, 3, last_error="SMTP 451"),
    ]

    async def notify(notice: Notice, target: TenantNotifications) -> SendOutcome:
        assert target.tenant_id == notice.tenant_id == tenant_id
        sent.append(notice)
        return outcomes.pop(0)

    async def scenario() -> dict[str, int]:
        engine = create_engine(db_settings)
        try:
            worker = NotificationWorker(
                engine=engine, notify=notify, clock=lambda: NOW, count=lambda k, o: counted.append((k, o))
            )
            async with engine.connect() as conn:
                saga_id = (
                    (
                        await conn.execute(
                            select(purchase_orders.c.saga_id).where(purchase_orders.c.tenant_id == tenant_id)
                        )
                    )
                    .scalars()
                    .first()
                )
            assert isinstance(saga_id, UUID)

            def ready() -> PlanReady:
                return PlanReady(
                    event_id=uuid4(), tenant_id=tenant_id, saga_id=saga_id, occurred_at=NOW, business_date=TODAY,
                    batches=3, purchase_lines=5, purchase_orders=len(orders),
                )  # fmt: skip

            await worker.handle(ready())  # no target yet: claimed, nothing sent
            assert sent == []
            async with engine.begin() as conn:
                target = TenantNotifications(tenant_id=tenant_id, target=EmailTarget(to=("baker@kiel.example",)))
                await save_notifications(conn, target, at=NOW)
            plan = ready()
            await worker.handle(plan)
            await worker.handle(plan)  # redelivered: the inbox holds it, nothing sent again
            alert = SagaFailedAlert(event_id=uuid4(), tenant_id=tenant_id, saga_id=saga_id, occurred_at=NOW, reason="x")
            with caplog.at_level(logging.ERROR):
                await worker.handle(alert)  # fails after its retries: no exception, claimed
            await worker.handle(alert)
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(effect_log.c.kind, func.count())
                    .where(effect_log.c.consumer == NOTIFY_CONSUMER, effect_log.c.tenant_id == tenant_id)
                    .group_by(effect_log.c.kind)
                )
                return {kind: int(n) for kind, n in rows}
        finally:
            await engine.dispose()

    effects = asyncio.run(scenario())
    assert [n.kind for n in sent] == ["plan_ready", "saga_failed"]
    summary = sent[0].payload
    assert summary["orders"] == len(orders)
    totals = {t["currency"]: t["total"] for t in summary["totals"]}
    assert totals == {orders[0].currency: round(sum(o.total for o in orders), 2)}
    assert counted == [("plan_ready", "no_target"), ("plan_ready", "sent"), ("saga_failed", "send_failed")]
    assert effects == {"no_target": 1, "sent": 1, "send_failed": 1}
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and "could not be sent" in r.getMessage()]
    assert len(failed) == 1
    assert "SMTP 451" in failed[0].getMessage()
