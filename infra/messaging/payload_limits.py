"""How large an outbox payload may be, and the relay's batches by bytes (docs/resilience.md)."""

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.envelope import Message
from contracts.errors import PermanentError


@dataclass(frozen=True)
class PayloadLimits:
    """How large an outbox payload may be (`Settings.max_message_bytes`), and from which size it goes
    by claim check (`Settings.claim_check_bytes`). The defaults are the settings' defaults."""

    max_bytes: int = 8 * 1024 * 1024
    claim_check_bytes: int = 512 * 1024


DEFAULT_LIMITS = PayloadLimits()


class PayloadTooLargeError(PermanentError):
    """A message too large to send even by claim check: the step that produced it fails."""


def check_payload_size(message: Message, size: int, limits: PayloadLimits) -> None:
    """Raise `PayloadTooLargeError` when `size` bytes of `message` are past `limits.max_bytes`,
    naming the message, its size, the limit and the setting."""
    if size > limits.max_bytes:
        m = message
        raise PayloadTooLargeError(
            f"{m.event_type} {m.event_id} of tenant {m.tenant_id} (saga {m.saga_id}) is {size} bytes, over the "
            f"limit of {limits.max_bytes} bytes (BAKEPLAN_MAX_MESSAGE_BYTES): plan a shorter horizon or fewer "
            "products per tenant, or raise the limit on every component"
        )


def batch_by_bytes(rows: Sequence[tuple[int, int]], max_bytes: int) -> list[int]:
    """The ids of the longest prefix of `rows` (id, payload bytes) within `max_bytes`; at least the
    first row, however large, so a big row is never stuck behind the limit."""
    ids: list[int] = []
    total = 0
    for row_id, size in rows:
        if ids and total + size > max_bytes:
            break
        ids.append(row_id)
        total += size
    return ids
