"""The deterministic-id recipes: every id of something that may be emitted twice.

Re-deciding after a crash, a second replica or a second trigger emits the same ids, so consumers drop
the duplicates (their inbox) and stores keep one row (primary keys). Changing a recipe changes the
ids of every saga from then on: a trigger redelivered across such an upgrade would start a second
saga. So the namespaces and name formats below are fixed for good.
"""

from collections.abc import Iterable
from datetime import date
from uuid import UUID, uuid5

SAGA_ID_NAMESPACE = UUID("6b1f3c52-2f0e-4a7e-9a43-0d5b7f3f6c11")
DAILY_TRIGGER_NAMESPACE = UUID("2d5e8a9c-61f4-4b7e-8c1a-5f0b9d3e7a24")
LOW_STOCK_TRIGGER_NAMESPACE = UUID("0c7a51d4-93e2-4f6b-b8d1-7e4a2c9f5b30")


def daily_trigger_id(tenant_id: str, business_date: date) -> UUID:
    """The event id of a tenant's daily trigger for one business date, the same in every process
    (scheduler, CLI, an external cron)."""
    return uuid5(DAILY_TRIGGER_NAMESPACE, f"{tenant_id}:{business_date.isoformat()}")


def low_stock_trigger_id(tenant_id: str, signal_event_ids: Iterable[UUID]) -> UUID:
    """The same tenant and set of low-stock signals always name the same trigger (and saga)."""
    return uuid5(LOW_STOCK_TRIGGER_NAMESPACE, f"{tenant_id}:{','.join(sorted(str(e) for e in signal_event_ids))}")


def saga_id_for_trigger(trigger_event_id: UUID) -> UUID:
    """The saga a trigger starts; deterministic, so the CLI can print it before the saga exists."""
    return uuid5(SAGA_ID_NAMESPACE, str(trigger_event_id))


def snapshot_event_id(saga_id: UUID) -> UUID:
    """The saga's one `SnapshotTaken`."""
    return uuid5(saga_id, "snapshot")


def step_command_id(saga_id: UUID, step: str, attempt: int) -> UUID:
    """The command that runs `step` for the `attempt`-th time (1-based)."""
    return uuid5(saga_id, f"run:{step}:{attempt}")


def compensation_command_id(saga_id: UUID, step: str, attempt: int) -> UUID:
    """The `attempt`-th command that undoes `step`."""
    return uuid5(saga_id, f"compensate:{step}:{attempt}")


def outcome_event_id(saga_id: UUID, status: str) -> UUID:
    """The saga's outcome message (plan ready, compensated, or the alert of a failed saga)."""
    return uuid5(saga_id, f"finish:{status}")


def purchase_order_number(saga_id: UUID, business_date: date, seq: int) -> str:
    """The `seq`-th (1-based) purchase order a saga releases: `PO-<business date>-<saga>-<seq>`, e.g.
    `PO-20261128-3F9A61C2-01`. Unique per tenant (a tenant has one daily saga per date, and a saga's
    orders are numbered in order), and the same on every re-run, so a supplier can use it as the
    order's idempotency key."""
    return f"PO-{business_date:%Y%m%d}-{saga_id.hex[:8].upper()}-{seq:02d}"


def order_event_id(po_number: str, tenant_id: str, kind: str) -> UUID:
    """The `purchasing.order_<kind>` event of one purchase order (released, cancelled): published
    once per order and kind, whoever publishes it and however often."""
    return uuid5(SAGA_ID_NAMESPACE, f"order:{tenant_id}:{po_number}:{kind}")
