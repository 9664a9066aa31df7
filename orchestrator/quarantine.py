"""Quarantine for the orchestrator's background scans (docs/resilience.md).

The deadline scan, the scheduler pass and the low-stock scan each handle many items (sagas,
schedules, tenants). Each item runs in a transaction of its own, so one that raises cannot stop the
others; its failure is counted here, durably, and after `threshold` failures in a row the item is
quarantined: the scan skips it and an `OperationsAlert` goes out (through the outbox, in the same
transaction). A success in between clears the count. An operator releases a quarantined item by
deleting its row from `orchestrator.scan_quarantine` once the cause is fixed.

A failure that only says a dependency is unavailable (the database or the broker) is not the item's
fault and is not counted: the scan stops and retries as before.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.messages import OperationsAlert
from contracts.topics import Topic
from infra.messaging import outbox as outbox_store
from infra.messaging.outbox import Outgoing
from orchestrator.tables import outbox, scan_quarantine

log = logging.getLogger(__name__)

# the namespace of alert ids: one alert per (scan, item, first failure) however often it is recorded
_ALERTS = uuid.UUID("7b1c2f4e-3d60-4f0a-9a55-5c3e0f4d2a10")
UNKNOWN_TENANT = "_unknown"
"""The tenant an item is filed under when the scan could not tell (e.g. a saga row that cannot be read)."""


class Scan(StrEnum):
    DEADLINES = "deadlines"
    """Items: saga ids."""
    SCHEDULES = "schedules"
    """Items: tenant ids (their schedule)."""
    LOW_STOCK = "low_stock"
    """Items: tenant ids (their pending low-stock signals)."""


@dataclass(frozen=True)
class Failing:
    failures: int
    quarantined: bool


class Quarantine(Protocol):
    async def failing(self, scan: Scan) -> dict[str, Failing]:
        """The items of `scan` that failed their last run(s), quarantined or not."""

    async def failed(self, scan: Scan, item: str, *, tenant_id: str, error: BaseException, at: datetime) -> bool:
        """Count one failure of `item`; True when this one quarantined it (the alert is queued)."""

    async def cleared(self, scan: Scan, item: str) -> None:
        """`item` ran cleanly (or an operator released it): forget its failures."""


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:4000]


class PostgresQuarantine:
    """The quarantine in `orchestrator.scan_quarantine`; each call is a transaction of its own."""

    def __init__(
        self, engine: AsyncEngine, *, threshold: int, on_quarantined: Callable[[Scan], None] = lambda scan: None
    ) -> None:
        self._engine = engine
        self._threshold = threshold
        self._on_quarantined = on_quarantined

    async def failing(self, scan: Scan) -> dict[str, Failing]:
        q = scan_quarantine
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(q.c.item, q.c.failures, q.c.quarantined_at).where(q.c.scan == scan))
            return {r.item: Failing(r.failures, r.quarantined_at is not None) for r in rows}

    async def failed(self, scan: Scan, item: str, *, tenant_id: str, error: BaseException, at: datetime) -> bool:
        q = scan_quarantine
        reason = describe(error)
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    pg_insert(q)
                    .values(
                        scan=scan,
                        item=item,
                        tenant_id=tenant_id,
                        failures=1,
                        last_error=reason,
                        first_failed_at=at,
                        last_failed_at=at,
                    )
                    .on_conflict_do_update(
                        index_elements=[q.c.scan, q.c.item],
                        set_={"failures": q.c.failures + 1, "last_error": reason, "last_failed_at": at},
                    )
                    .returning(q.c.failures, q.c.quarantined_at, q.c.first_failed_at)
                )
            ).one()
            log.warning("%s scan: %s (tenant %s) failed (%d in a row): %s", scan, item, tenant_id, row.failures, reason)
            if row.quarantined_at is not None or row.failures < self._threshold:
                return False
            await conn.execute(q.update().where(and_(q.c.scan == scan, q.c.item == item)).values(quarantined_at=at))
            alert = OperationsAlert(
                event_id=uuid.uuid5(_ALERTS, f"{scan}:{item}:{row.first_failed_at.isoformat()}"),
                tenant_id=tenant_id,
                occurred_at=at if at.tzinfo else at.replace(tzinfo=UTC),
                kind="scan_item_quarantined",
                component="orchestrator",
                subject=f"{scan} scan: {item}",
                reason=f"failed {row.failures} scans in a row, last: {reason}; fix the cause, then delete "
                f"the row ({scan}, {item}) from orchestrator.scan_quarantine",
            )
            await outbox_store.add(conn, outbox, [Outgoing(Topic.ALERTS, alert)])
        log.error(
            "%s scan: %s (tenant %s) quarantined after %d failures: %s", scan, item, tenant_id, row.failures, reason
        )
        self._on_quarantined(scan)
        return True

    async def cleared(self, scan: Scan, item: str) -> None:
        q = scan_quarantine
        async with self._engine.begin() as conn:
            await conn.execute(delete(q).where(q.c.scan == scan, q.c.item == item))


class MemoryQuarantine:
    """The same rules in memory (unit tests, the in-memory stores); `alerts` collects what would go out."""

    def __init__(self, *, threshold: int = 3) -> None:
        self._threshold = threshold
        self.items: dict[tuple[Scan, str], Failing] = {}
        self.alerts: list[tuple[Scan, str, str]] = []

    async def failing(self, scan: Scan) -> dict[str, Failing]:
        return {item: f for (s, item), f in self.items.items() if s == scan}

    async def failed(self, scan: Scan, item: str, *, tenant_id: str, error: BaseException, at: datetime) -> bool:
        before = self.items.get((scan, item), Failing(0, False))
        now_failing = Failing(before.failures + 1, before.quarantined or before.failures + 1 >= self._threshold)
        self.items[(scan, item)] = now_failing
        if now_failing.quarantined and not before.quarantined:
            self.alerts.append((scan, item, describe(error)))
            return True
        return False

    async def cleared(self, scan: Scan, item: str) -> None:
        self.items.pop((scan, item), None)
