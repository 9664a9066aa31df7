"""Sending one purchase order on one channel, with retries: `Sender.send(order, channel) -> SendOutcome`.

No database: the outcome says what happened, and the caller records it (`Dispatcher`). Transient
errors are retried per the `RetryPolicy` (each attempt bounded by its timeout, waits exponential with
jitter, a server's Retry-After honoured); a permanent error ends the send at once. Either way the
outcome of a failed send is `send_failed` with the last error, never an exception. Only a mismatch
between the order and the channel (another tenant's or supplier's channel) raises: that is a bug in
the caller, refused loudly (DESIGN.md, invariant 7).
"""

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import assert_never

from contracts.errors import PermanentError
from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.config import (
    EmailTarget,
    FileDropTarget,
    SupplierChannel,
    TenantNotifications,
    WebhookTarget,
)
from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.file_drop import drop_file
from workers.procurement.channels.notices import Notice
from workers.procurement.channels.retry import RetryPolicy
from workers.procurement.channels.settings import ChannelSettings
from workers.procurement.channels.smtp import relay_of, send_email, send_message
from workers.procurement.channels.webhook import post_signed, post_webhook, tls_context

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
Attempt = Callable[[], Awaitable[str]]


class DeliveryStatus(StrEnum):
    """A delivery's recorded state. A send's outcome is `sent` or `send_failed`; `sending` is recorded
    before a send (`Deliveries.begin`), so a record left in it shows a send whose outcome was lost."""

    SENDING = "sending"
    SENT = "sent"
    SEND_FAILED = "send_failed"


@dataclass(frozen=True)
class SendOutcome:
    """What one send did. `receipt` is the supplier side's acknowledgement when sent (the relay's reply,
    "HTTP 200 OK", the file's path); `last_error` says why it failed; `permanent` when retrying cannot help."""

    status: DeliveryStatus
    attempts: int
    receipt: str | None = None
    last_error: str | None = None
    permanent: bool = False

    @property
    def sent(self) -> bool:
        return self.status is DeliveryStatus.SENT


class ChannelMismatchError(PermanentError):
    """The channel belongs to another tenant or supplier than the order."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def with_retries(
    attempt: Attempt, policy: RetryPolicy, *, sleep: Sleep, rng: random.Random, context: str
) -> SendOutcome:
    """Run `attempt` until it returns, raises PermanentSendError, or has failed `policy.attempts` times."""
    last_error = ""
    for number in range(1, policy.attempts + 1):
        try:
            async with asyncio.timeout(policy.attempt_timeout_seconds):
                receipt = await attempt()
        except PermanentSendError as exc:
            log.warning("%s: attempt %d failed for good: %s", context, number, exc)
            return SendOutcome(DeliveryStatus.SEND_FAILED, number, last_error=str(exc), permanent=True)
        except (TransientSendError, TimeoutError) as exc:
            last_error = str(exc) or f"no answer within {policy.attempt_timeout_seconds} s"
            if number == policy.attempts:
                break
            retry_after = exc.retry_after if isinstance(exc, TransientSendError) else None
            wait = policy.backoff_seconds(number, rng, retry_after=retry_after)
            log.warning("%s: attempt %d failed (%s); retrying in %.2f s", context, number, last_error, wait)
            await sleep(wait)
        else:
            return SendOutcome(DeliveryStatus.SENT, number, receipt=receipt)
    log.warning("%s: send_failed after %d attempts: %s", context, policy.attempts, last_error)
    return SendOutcome(DeliveryStatus.SEND_FAILED, policy.attempts, last_error=last_error)


class Sender:
    """Sends purchase orders on suppliers' channels, and notices to bakeries, with the deployment's
    settings and secrets."""

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self._settings = settings
        self._policy = policy or settings.retry_policy
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self._tls: ssl.SSLContext | None = None

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    async def send(self, order: PurchaseOrder, channel: SupplierChannel) -> SendOutcome:
        """Send `order` on `channel`, retrying transient errors; never raises for the supplier's side."""
        if (channel.tenant_id, channel.supplier_id) != (order.tenant_id, order.supplier_id):
            raise ChannelMismatchError(
                f"refused: PO {order.po_number} is for supplier {order.supplier_id} of tenant {order.tenant_id}, "
                f"but the channel is supplier {channel.supplier_id}'s of tenant {channel.tenant_id}"
            )
        context = f"tenant {order.tenant_id}: PO {order.po_number} to {order.supplier_name} by {channel.describe()}"
        return await with_retries(
            lambda: self._attempt(order, channel), self._policy, sleep=self._sleep, rng=self._rng, context=context
        )

    async def _attempt(self, order: PurchaseOrder, channel: SupplierChannel) -> str:
        target, timeout = channel.target, self._policy.attempt_timeout_seconds
        if isinstance(target, EmailTarget):
            return await send_email(order, target, self._settings, at=self._clock(), timeout_seconds=timeout)
        if isinstance(target, WebhookTarget):
            self._tls = self._tls or tls_context()
            return await post_webhook(
                order, target, self._settings, at=self._clock(), timeout_seconds=timeout, tls=self._tls
            )
        if isinstance(target, FileDropTarget):
            return await drop_file(order, target, self._settings)
        assert_never(target)

    async def notify(self, notice: Notice, notifications: TenantNotifications) -> SendOutcome:
        """Send `notice` to the tenant's target, retrying transient errors; never raises for the far side."""
        if notice.tenant_id != notifications.tenant_id:
            raise ChannelMismatchError(
                f"refused: the {notice.kind} notice {notice.event_id} is for tenant {notice.tenant_id}, "
                f"but the notification target is tenant {notifications.tenant_id}'s"
            )
        context = f"tenant {notice.tenant_id}: {notice.kind} notice {notice.event_id} by {notifications.describe()}"
        return await with_retries(
            lambda: self._notify(notice, notifications),
            self._policy,
            sleep=self._sleep,
            rng=self._rng,
            context=context,
        )

    async def _notify(self, notice: Notice, notifications: TenantNotifications) -> str:
        target, timeout = notifications.target, self._policy.attempt_timeout_seconds
        if isinstance(target, EmailTarget):
            relay_of(self._settings)
            message = notice.email(target, sender=self._settings.smtp_from, at=self._clock())
            return await send_message(message, self._settings, timeout_seconds=timeout)
        if isinstance(target, WebhookTarget):
            self._tls = self._tls or tls_context()
            return await post_signed(
                target,
                notice.json_body(),
                notice.idempotency_key,
                self._settings,
                at=self._clock(),
                timeout_seconds=timeout,
                tls=self._tls,
            )
        assert_never(target)
