"""The webhook channel: an HTTP POST of the purchase order as JSON, signed (`signing`), with
`Idempotency-Key: <PO number>` so the supplier can drop a repeat.

2xx is sent. 408, 429 (with its Retry-After), 5xx, refused connections and timeouts are transient:
a timed-out request may have arrived, which is why the key is there. Any other status (4xx, and 3xx:
a redirect is not followed, the channel's URL needs fixing) is permanent.
"""

import ssl
from datetime import datetime

import httpx

from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.config import WebhookTarget
from workers.procurement.channels.documents import idempotency_key, render_json
from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.settings import ChannelSettings
from workers.procurement.channels.signing import SIGNATURE_HEADER, signature_header

USER_AGENT = "bakeplan-purchase-orders/1"
TRANSIENT_STATUSES = frozenset({408, 429})


def signing_keys(target: WebhookTarget, settings: ChannelSettings) -> list[bytes]:
    """The keys the settings hold under the channel's key name: one, or several separated by spaces
    while a key is rotated (the supplier accepts any)."""
    secret = settings.webhook_signing_keys.get(target.signing_key_name)
    keys = secret.get_secret_value().split() if secret else []
    if not keys:
        raise PermanentSendError(
            f"no webhook signing key named {target.signing_key_name!r}: add it to BAKEPLAN_WEBHOOK_SIGNING_KEYS"
        )
    return [key.encode() for key in keys]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def tls_context() -> ssl.SSLContext:
    """The CA bundle httpx trusts, loaded once per sender: loading it takes a good part of an attempt."""
    return httpx.create_ssl_context()


async def post_webhook(
    order: PurchaseOrder,
    target: WebhookTarget,
    settings: ChannelSettings,
    *,
    at: datetime,
    timeout_seconds: float,
    tls: ssl.SSLContext,
) -> str:
    """Post one attempt; "HTTP <status>" as the receipt. Raises TransientSendError or PermanentSendError."""
    return await post_signed(
        target,
        render_json(order),
        idempotency_key(order),
        settings,
        at=at,
        timeout_seconds=timeout_seconds,
        tls=tls,
    )


async def post_signed(
    target: WebhookTarget,
    body: bytes,
    key: str,
    settings: ChannelSettings,
    *,
    at: datetime,
    timeout_seconds: float,
    tls: ssl.SSLContext,
) -> str:
    """Post `body` (JSON) signed, with `Idempotency-Key: key` (a purchase order, a bakery's notification):
    one attempt, "HTTP <status>" as the receipt. Raises TransientSendError or PermanentSendError."""
    keys = signing_keys(target, settings)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": key,
        SIGNATURE_HEADER: signature_header(keys, int(at.timestamp()), body),
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False, verify=tls) as client:
            response = await client.post(target.url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientSendError(f"webhook {target.url} timed out after {timeout_seconds} s ({exc!r})") from exc
    except httpx.TransportError as exc:  # refused, reset, DNS, TLS handshake
        raise TransientSendError(f"webhook {target.url} unreachable: {exc!r}") from exc
    except httpx.InvalidURL as exc:
        raise PermanentSendError(f"webhook URL {target.url!r} is invalid: {exc}; fix the channel's URL") from exc
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    if response.is_success:
        return status
    detail = f"webhook {target.url} answered {status}: {response.text[:200]!r}"
    if response.status_code >= 500 or response.status_code in TRANSIENT_STATUSES:
        raise TransientSendError(detail, retry_after=_retry_after(response))
    raise PermanentSendError(detail)
