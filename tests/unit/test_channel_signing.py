"""The webhook signature: what the sender signs verifies with the key, and with the docs' own snippet;
a changed body, another key, an old timestamp or a malformed header does not."""

import time

import pytest

from lab.purchase_orders import a_purchase_order
from tests.channels.verification import docs_verifier
from workers.procurement.channels.documents import render_json
from workers.procurement.channels.signing import SignatureError, signature, signature_header, verify

pytestmark = pytest.mark.unit
KEY, OTHER_KEY = b"northern-mills-secret", b"someone-else"
BODY = render_json(a_purchase_order())


def test_a_signed_body_verifies_and_returns_its_timestamp() -> None:
    now = int(time.time())
    header = signature_header([KEY], now, BODY)
    assert header == f"t={now},v1={signature(KEY, now, BODY)}"
    assert verify(header, BODY, KEY, now=now + 10) == now


@pytest.mark.parametrize(
    ("header_key", "body", "age_seconds", "reason"),
    [
        (KEY, BODY.replace(b"250.0", b"2500.0"), 0, "no v1 signature matches"),
        (OTHER_KEY, BODY, 0, "no v1 signature matches"),
        (KEY, BODY, 301, "outside ±300 s"),
        (KEY, BODY, -301, "outside ±300 s"),
    ],
)
def test_tampering_another_key_and_stale_timestamps_are_refused(
    header_key: bytes, body: bytes, age_seconds: int, reason: str
) -> None:
    assert b"250.0" in BODY  # the tampered case changes a quantity
    now = int(time.time())
    header = signature_header([header_key], now - age_seconds, BODY)
    with pytest.raises(SignatureError, match=reason):
        verify(header, body, KEY, now=now)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=12,t=13,v1=abc", "t=soon,v1=abc", "t=12"])
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(header, BODY, KEY, now=12)


def test_during_a_key_rotation_either_key_verifies() -> None:
    now = int(time.time())
    header = signature_header([b"new-key", KEY], now, BODY)
    assert verify(header, BODY, KEY, now=now) == now
    assert verify(header, BODY, b"new-key", now=now) == now


def test_the_docs_snippet_verifies_what_the_sender_signs_and_refuses_the_rest() -> None:
    supplier_verifies = docs_verifier()
    now = int(time.time())
    header = signature_header([KEY], now, BODY)
    assert supplier_verifies(header, BODY, KEY)
    assert not supplier_verifies(header, BODY + b" ", KEY)
    assert not supplier_verifies(header, BODY, OTHER_KEY)
    assert not supplier_verifies(signature_header([KEY], now - 600, BODY), BODY, KEY)
    assert not supplier_verifies("garbage", BODY, KEY)
