"""Supplier channels: released purchase orders rendered (PDF, CSV, JSON) and sent by email, signed
webhook or file drop, with retries, and recorded once per order and channel (docs/channels.md).

Why here, on the workers floor inside procurement: sending an order is the procurement domain's I/O,
and it belongs next to the purchase lines and orders it acts on. Its delivery records live in the
`procurement` schema, so the process that moves a PO through `released → sent` (or `send_failed`)
can record the send and the PO's new status in one transaction. A separate `workers/dispatch/` would
either reach into procurement's tables (the "workers never import each other" contract forbids it)
or keep the PO's state in a second place. It is not infra (a purchase order is a bakery word), nor
the orchestrator (which may not import worker internals, and whose saga only decides). The roof
composes it: `bakeplan/roles/channels.py` builds settings → `Sender` → the channels role's
`workers.procurement.send_handler.ChannelWorker`, which records `sending`, sends, and records the
outcome with the order's lifecycle move in one transaction (docs/channels.md, "The channels role").

Inside, the pure parts (`documents`, `pdf`, `signing`, `retry`, `config`) do no I/O, and everything
but `postgres` and `tables` is free of the database; import-linter keeps both rules.

    sender = Sender(ChannelSettings())
    dispatcher = Dispatcher(PostgresDeliveries(engine), sender.send)
    result = await dispatcher.dispatch(order, channel)   # result.delivery.status: sent | send_failed
"""

from workers.procurement.channels.config import (
    EmailTarget,
    FileDropTarget,
    SupplierChannel,
    WebhookTarget,
)
from workers.procurement.channels.deliveries import (
    Deliveries,
    Delivery,
    DeliveryKey,
    Dispatch,
    Dispatcher,
    MemoryDeliveries,
    Recorded,
)
from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.retry import RetryPolicy
from workers.procurement.channels.sending import ChannelMismatchError, DeliveryStatus, Sender, SendOutcome
from workers.procurement.channels.settings import ChannelSettings

__all__ = [
    "ChannelMismatchError",
    "ChannelSettings",
    "Deliveries",
    "Delivery",
    "DeliveryKey",
    "DeliveryStatus",
    "Dispatch",
    "Dispatcher",
    "EmailTarget",
    "FileDropTarget",
    "MemoryDeliveries",
    "PermanentSendError",
    "Recorded",
    "RetryPolicy",
    "SendOutcome",
    "Sender",
    "SupplierChannel",
    "TransientSendError",
    "WebhookTarget",
]
