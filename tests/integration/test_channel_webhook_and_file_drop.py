"""The webhook channel against a real HTTP server started in the test, checked as the supplier would
(signature with the docs' snippet, Idempotency-Key, body); the file drop into a real directory."""

import csv
import io
import os
import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from contracts.purchasing import PurchaseOrder
from lab.purchase_orders import a_purchase_order
from tests.channels.verification import docs_verifier
from tests.channels.webhook_receiver import Reply, WebhookReceiver, webhook_server
from workers.procurement.channels import (
    ChannelSettings,
    DeliveryStatus,
    FileDropTarget,
    RetryPolicy,
    Sender,
    SupplierChannel,
    WebhookTarget,
)
from workers.procurement.channels.documents import render_csv

pytestmark = pytest.mark.integration
QUICK = RetryPolicy(attempts=3, base_seconds=0.05, max_seconds=0.2, attempt_timeout_seconds=2)
KEY = "valley-dairy-2026-key"


def webhook_channel(url: str, key_name: str = "valley-dairy") -> SupplierChannel:
    return SupplierChannel(
        tenant_id="mill-lane", supplier_id="northern-mills", target=WebhookTarget(url=url, signing_key_name=key_name)
    )


def webhook_sender(policy: RetryPolicy = QUICK) -> Sender:
    settings = ChannelSettings(webhook_signing_keys={"valley-dairy": SecretStr(KEY)})
    return Sender(settings, policy=policy, rng=random.Random(5))


async def test_the_supplier_verifies_the_signature_and_reads_the_order() -> None:
    order = a_purchase_order(po_number="PO-2026-11-28-VD-0002")
    with webhook_server(WebhookReceiver(then=Reply(status=201))) as receiver:
        outcome = await webhook_sender().send(order, webhook_channel(receiver.url))
    assert (outcome.status, outcome.attempts, outcome.receipt) == (DeliveryStatus.SENT, 1, "HTTP 201 Created")
    [request] = receiver.requests
    assert request.path == "/bakeplan/orders"
    assert request.headers["idempotency-key"] == "PO-2026-11-28-VD-0002"
    assert request.headers["content-type"] == "application/json"
    assert docs_verifier()(request.headers["bakeplan-signature"], request.body, KEY.encode())
    assert not docs_verifier()(request.headers["bakeplan-signature"], request.body, b"another bakery's key")
    assert PurchaseOrder.model_validate_json(request.body) == order


async def test_a_redirect_is_not_followed_and_fails_at_once() -> None:
    moved = Reply(status=301, headers=(("Location", "http://127.0.0.1:9/elsewhere"),))
    with webhook_server(WebhookReceiver(then=moved)) as receiver:
        outcome = await webhook_sender().send(a_purchase_order(), webhook_channel(receiver.url))
    assert (outcome.status, outcome.attempts, outcome.permanent, len(receiver.requests)) == (
        DeliveryStatus.SEND_FAILED,
        1,
        True,
        1,
    )
    assert "HTTP 301" in (outcome.last_error or "")


async def test_429_waits_as_long_as_the_supplier_asks_up_to_the_longest_wait() -> None:
    busy = Reply(status=429, headers=(("Retry-After", "1"),))
    patient = RetryPolicy(attempts=3, base_seconds=0.05, max_seconds=2, attempt_timeout_seconds=2)
    with webhook_server(WebhookReceiver(script=[busy])) as receiver:
        outcome = await webhook_sender(patient).send(a_purchase_order(), webhook_channel(receiver.url))
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.SENT, 2)
    first, second = receiver.requests
    assert second.received_at - first.received_at >= 1.0
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body


def drop_channel(directory: str) -> SupplierChannel:
    return SupplierChannel(
        tenant_id="mill-lane", supplier_id="northern-mills", target=FileDropTarget(directory=directory)
    )


async def test_the_file_drop_writes_the_csv_named_by_the_po_number_and_rewrites_it_atomically(tmp_path: Path) -> None:
    (tmp_path / "northern-mills" / "inbox").mkdir(parents=True)
    sender = Sender(ChannelSettings(file_drop_root=str(tmp_path)), policy=QUICK)
    order = a_purchase_order()
    first = await sender.send(order, drop_channel("northern-mills/inbox"))
    target = tmp_path / "northern-mills" / "inbox" / "PO-2026-11-28-NM-0001.csv"
    assert (first.status, first.receipt) == (DeliveryStatus.SENT, str(target))
    content, inode = target.read_bytes(), target.stat().st_ino
    assert content == render_csv(order)
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [r["ingredient_name"] for r in rows] == [line.ingredient_name for line in order.lines]

    again = await sender.send(order, drop_channel("northern-mills/inbox"))
    assert again.status is DeliveryStatus.SENT
    assert target.read_bytes() == content  # the same order, the same file
    assert target.stat().st_ino != inode  # replaced by a rename, never rewritten in place
    assert os.listdir(target.parent) == [target.name]  # no temporary file left behind


async def test_a_missing_drop_directory_is_retried_then_send_failed_and_not_created(tmp_path: Path) -> None:
    sender = Sender(ChannelSettings(file_drop_root=str(tmp_path)), policy=QUICK)
    outcome = await sender.send(a_purchase_order(), drop_channel("not-mounted"))
    assert (outcome.status, outcome.attempts, outcome.permanent) == (DeliveryStatus.SEND_FAILED, 3, False)
    assert "not-mounted" in (outcome.last_error or "")
    assert os.listdir(tmp_path) == []


async def test_a_drop_path_that_is_a_file_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "inbox").write_text("not a directory")
    sender = Sender(ChannelSettings(file_drop_root=str(tmp_path)), policy=QUICK)
    outcome = await sender.send(a_purchase_order(), drop_channel("inbox"))
    assert (outcome.status, outcome.attempts, outcome.permanent) == (DeliveryStatus.SEND_FAILED, 1, True)
