"""The email channel against a real SMTP server (aiosmtpd) started in the test: the message a supplier
gets, with its PDF and CSV; STARTTLS with a login, implicit TLS; refusals retried or failed fast."""

import csv
import io
import random
from collections.abc import Iterator

import pytest
from pypdf import PdfReader

from lab.purchase_orders import SAMPLE_LINES, a_purchase_order
from tests.channels.smtp_inbox import Inbox, free_port, smtp_server
from tests.channels.tls import LocalTls, local_tls
from workers.procurement.channels import (
    ChannelSettings,
    DeliveryStatus,
    EmailTarget,
    RetryPolicy,
    Sender,
    SupplierChannel,
)
from workers.procurement.channels.documents import message_id

pytestmark = pytest.mark.integration
QUICK = RetryPolicy(attempts=3, base_seconds=0.05, max_seconds=0.2, attempt_timeout_seconds=5)
CHANNEL = SupplierChannel(
    tenant_id="mill-lane",
    supplier_id="northern-mills",
    target=EmailTarget(
        to=("orders@northern-mills.example", "dispo@northern-mills.example"), cc=("buyer@mill-lane.example",)
    ),
)


def sender(port: int, **settings: object) -> Sender:
    defaults: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_from": "orders@mill-lane.example",
    }
    return Sender(ChannelSettings(**(defaults | settings)), policy=QUICK, rng=random.Random(3))  # type: ignore[arg-type]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server(Inbox(free_port())) as running:
        yield running


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTls:
    return local_tls(tmp_path_factory.mktemp("tls"))


async def test_the_supplier_gets_the_order_with_its_pdf_and_csv(inbox: Inbox) -> None:
    order = a_purchase_order()
    outcome = await sender(inbox.port).send(order, CHANNEL)
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.SENT, 1)
    [got] = inbox.received
    assert got.mail_from == "orders@mill-lane.example"
    assert got.rcpt_tos == ("orders@northern-mills.example", "dispo@northern-mills.example", "buyer@mill-lane.example")
    assert got.message["Message-ID"] == message_id(order, "mill-lane.example")
    assert got.message["Message-ID"] == "<po.PO-2026-11-28-NM-0001.mill-lane@mill-lane.example>"
    assert outcome.receipt is not None
    assert outcome.receipt.startswith(got.message["Message-ID"])
    assert got.message["Subject"] == f"Purchase order {order.po_number} from Mill Lane Bakehouse, delivery 2026-12-01"
    assert str(got.message["From"]) == "Mill Lane Bakehouse <orders@mill-lane.example>"
    body = got.message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Wheat flour T550: 250 kg at €0.62 / kg = €155.00" in body.get_content()

    pdf = got.attachment("PO-2026-11-28-NM-0001.pdf")
    assert pdf.startswith(b"%PDF-")
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert order.po_number in text
    assert "Northern Mills" in text
    assert "€854.90" in text

    rows = list(csv.DictReader(io.StringIO(got.attachment("PO-2026-11-28-NM-0001.csv").decode())))
    assert [(r["ingredient_name"], float(r["quantity"]), r["unit"], float(r["unit_price"])) for r in rows] == [
        (name, float(quantity), unit, price) for _, name, quantity, unit, price in SAMPLE_LINES
    ]
    assert [float(r["amount"]) for r in rows] == [line.amount for line in order.lines]


async def test_starttls_with_a_login(tls: LocalTls) -> None:
    with smtp_server(Inbox(free_port()), starttls=tls.server_context, login=("bakeplan", "s3cret")) as inbox:
        outcome = await sender(
            inbox.port,
            smtp_security="starttls",
            smtp_ca_file=str(tls.ca_file),
            smtp_username="bakeplan",
            smtp_password="s3cret",
        ).send(a_purchase_order(), CHANNEL)
    assert outcome.status is DeliveryStatus.SENT
    [got] = inbox.received
    assert (got.login, got.over_tls) == ("bakeplan", True)


async def test_a_wrong_password_fails_at_once(tls: LocalTls) -> None:
    with smtp_server(Inbox(free_port()), starttls=tls.server_context, login=("bakeplan", "s3cret")) as inbox:
        outcome = await sender(
            inbox.port,
            smtp_security="starttls",
            smtp_ca_file=str(tls.ca_file),
            smtp_username="bakeplan",
            smtp_password="wrong",
        ).send(a_purchase_order(), CHANNEL)
    assert (outcome.status, outcome.attempts, outcome.permanent) == (DeliveryStatus.SEND_FAILED, 1, True)
    assert "SMTP 535" in (outcome.last_error or "")
    assert inbox.received == []


async def test_implicit_tls(tls: LocalTls) -> None:
    with smtp_server(Inbox(free_port()), implicit_tls=tls.server_context) as inbox:
        outcome = await sender(inbox.port, smtp_security="tls", smtp_ca_file=str(tls.ca_file)).send(
            a_purchase_order(), CHANNEL
        )
    assert outcome.status is DeliveryStatus.SENT
    assert inbox.received[0].over_tls


async def test_a_relay_whose_certificate_is_not_trusted_fails_at_once(tls: LocalTls) -> None:
    with smtp_server(Inbox(free_port()), starttls=tls.server_context) as inbox:
        outcome = await sender(inbox.port, smtp_security="starttls").send(a_purchase_order(), CHANNEL)
    assert (outcome.attempts, outcome.permanent) == (1, True)
    assert "BAKEPLAN_SMTP_CA_FILE" in (outcome.last_error or "")


async def test_a_relay_without_starttls_fails_at_once_when_it_is_required(inbox: Inbox) -> None:
    outcome = await sender(inbox.port, smtp_security="starttls").send(a_purchase_order(), CHANNEL)
    assert (outcome.status, outcome.attempts, outcome.permanent) == (DeliveryStatus.SEND_FAILED, 1, True)
    assert "STARTTLS" in (outcome.last_error or "")
    assert inbox.received == []


async def test_a_temporary_refusal_is_retried(inbox: Inbox) -> None:
    inbox.refusals.append("451 4.3.0 Mail server temporarily rejected message")
    outcome = await sender(inbox.port).send(a_purchase_order(), CHANNEL)
    assert (outcome.status, outcome.attempts, inbox.data_commands, len(inbox.received)) == (
        DeliveryStatus.SENT,
        2,
        2,
        1,
    )


async def test_a_permanent_refusal_fails_at_once(inbox: Inbox) -> None:
    inbox.refusals.extend(["554 5.7.1 Message rejected: not a customer"] * 3)
    outcome = await sender(inbox.port).send(a_purchase_order(), CHANNEL)
    assert (outcome.status, outcome.attempts, outcome.permanent, inbox.data_commands) == (
        DeliveryStatus.SEND_FAILED,
        1,
        True,
        1,
    )
    assert "SMTP 554" in (outcome.last_error or "")
    assert "not a customer" in (outcome.last_error or "")
