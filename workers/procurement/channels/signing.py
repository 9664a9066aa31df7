"""The webhook signature: HMAC-SHA256 over the timestamp and the body, so a supplier can check that an
order comes from its bakery, unchanged, and not replayed from long ago (docs/channels.md).

    Bakeplan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>

Several `v1=` entries may follow, one per valid key (during a key rotation); one match is enough.
"""

import hashlib
import hmac
from collections.abc import Sequence

SIGNATURE_HEADER = "Bakeplan-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The header is missing, malformed, too old, or matches none of the keys."""


def signature(key: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(keys: Sequence[bytes], timestamp: int, body: bytes) -> str:
    """The header's value, signed with each of `keys` (normally one)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(key, timestamp, body)}" for key in keys)])


def verify(
    header: str, body: bytes, key: bytes, *, now: float, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
) -> int:
    """The signed timestamp, when `header` signs `body` with `key` within the tolerance; else SignatureError."""
    fields = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in fields if name.strip() == "t"]
    candidates = [value.strip() for name, _, value in fields if name.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not candidates:
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex>")
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(f"signed at {timestamp}, {now - timestamp:.0f} s from now: outside ±{tolerance_seconds} s")
    expected = signature(key, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("no v1 signature matches this key and body")
    return timestamp
