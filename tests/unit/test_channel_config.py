"""Supplier channels as master data: validated, keyed by their target, with no secret in them; the
secrets come from the environment; an order is never sent on another tenant's or supplier's channel."""

import json

import pytest
from pydantic import ValidationError

from lab.purchase_orders import a_purchase_order
from workers.procurement.channels import (
    ChannelMismatchError,
    ChannelSettings,
    EmailTarget,
    FileDropTarget,
    RetryPolicy,
    Sender,
    SupplierChannel,
    WebhookTarget,
)
from workers.procurement.channels.errors import PermanentSendError
from workers.procurement.channels.webhook import signing_keys

pytestmark = pytest.mark.unit


def channel(
    target: EmailTarget | WebhookTarget | FileDropTarget, supplier_id: str = "northern-mills"
) -> SupplierChannel:
    return SupplierChannel(tenant_id="mill-lane", supplier_id=supplier_id, target=target)


def test_a_channel_reads_from_its_master_data_json() -> None:
    stored = (
        '{"tenant_id": "mill-lane", "supplier_id": "valley-dairy", "target": {"kind": "webhook",'
        ' "url": "https://api.valley-dairy.example/orders", "signing_key_name": "valley-dairy"}}'
    )
    parsed = SupplierChannel.model_validate_json(stored)
    assert SupplierChannel.model_validate(json.loads(stored), strict=False) == parsed  # as read from JSONB
    assert parsed.kind == "webhook"
    assert isinstance(parsed.target, WebhookTarget)
    assert parsed.describe() == "webhook https://api.valley-dairy.example/orders"


@pytest.mark.parametrize("directory", ["/etc", "../other-tenant", "inbox/../../x", "a\\b"])
def test_a_file_drop_directory_cannot_leave_the_drop_root(directory: str) -> None:
    with pytest.raises(ValidationError, match=r"relative path without '\.\.'"):
        FileDropTarget(directory=directory)


@pytest.mark.parametrize(
    "target",
    [
        {"kind": "email", "to": []},
        {"kind": "email", "to": ["not an address"]},
        {"kind": "webhook", "url": "ftp://x.example/", "signing_key_name": "k"},
        {"kind": "webhook", "url": "https://x.example/", "signing_key_name": "a key with spaces"},
        {"kind": "pigeon"},
    ],
)
def test_invalid_targets_are_refused(target: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SupplierChannel.model_validate({"tenant_id": "t", "supplier_id": "s", "target": target})


def test_the_channel_key_is_stable_and_changes_with_the_target() -> None:
    email = channel(EmailTarget(to=("orders@northern-mills.example",)))
    assert email.key == channel(EmailTarget(to=("orders@northern-mills.example",))).key
    assert email.key.startswith("email:")
    assert len(email.key) <= 64
    assert email.key != channel(EmailTarget(to=("sales@northern-mills.example",))).key
    assert channel(FileDropTarget(directory="a")).key != channel(FileDropTarget(directory="b")).key


def test_secrets_come_from_the_environment_and_are_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEPLAN_WEBHOOK_SIGNING_KEYS", '{"valley-dairy": "k-new k-old"}')
    monkeypatch.setenv("BAKEPLAN_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("BAKEPLAN_SEND_ATTEMPTS", "7")
    settings = ChannelSettings()
    target = WebhookTarget(url="https://api.valley-dairy.example/orders", signing_key_name="valley-dairy")
    assert signing_keys(target, settings) == [b"k-new", b"k-old"]
    assert settings.smtp_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "k-new" not in repr(settings)
    assert settings.retry_policy == RetryPolicy(attempts=7, base_seconds=2.0, max_seconds=60.0)


@pytest.mark.parametrize("sender", ["Orders <orders@mill-lane.example>", "orders", "a@b@c"])
def test_the_smtp_sender_is_a_bare_address(sender: str) -> None:
    with pytest.raises(ValidationError, match="smtp_from"):
        ChannelSettings(smtp_from=sender)


def test_a_missing_signing_key_is_a_permanent_error_naming_the_setting() -> None:
    target = WebhookTarget(url="https://x.example/orders", signing_key_name="nobody")
    with pytest.raises(PermanentSendError, match="BAKEPLAN_WEBHOOK_SIGNING_KEYS"):
        signing_keys(target, ChannelSettings(webhook_signing_keys={}))


@pytest.mark.parametrize(("tenant_id", "supplier_id"), [("other-bakery", "northern-mills"), ("mill-lane", "valley")])
async def test_an_order_is_never_sent_on_another_tenants_or_suppliers_channel(tenant_id: str, supplier_id: str) -> None:
    order = a_purchase_order(tenant_id="mill-lane", supplier_id="northern-mills")
    foreign = SupplierChannel(tenant_id=tenant_id, supplier_id=supplier_id, target=FileDropTarget(directory="x"))
    with pytest.raises(ChannelMismatchError, match=f"refused: PO {order.po_number}"):
        await Sender(ChannelSettings(file_drop_root="/nonexistent")).send(order, foreign)


async def test_a_channel_without_its_deployment_setting_fails_at_once_saying_which() -> None:
    order = a_purchase_order()
    sender = Sender(ChannelSettings(smtp_host="", file_drop_root=""))
    email = await sender.send(order, channel(EmailTarget(to=("orders@northern-mills.example",))))
    dropped = await sender.send(order, channel(FileDropTarget(directory="inbox")))
    assert (email.attempts, email.permanent) == (1, True)
    assert "BAKEPLAN_SMTP_HOST" in (email.last_error or "")
    assert (dropped.attempts, dropped.permanent) == (1, True)
    assert "BAKEPLAN_FILE_DROP_ROOT" in (dropped.last_error or "")
