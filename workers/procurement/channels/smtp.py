"""The email channel: the purchase order as a message with its PDF and CSV attached, through the
deployment's SMTP relay (`ChannelSettings.smtp_*`), optionally with STARTTLS or implicit TLS and AUTH.

The Message-ID is derived from the PO number (`documents.message_id`), so every send of one order
carries the same one and the supplier's mailbox can drop a repeat. SMTP 4xx and connection trouble
are transient; 5xx replies, a certificate that does not verify and a relay without STARTTLS are
permanent.
"""

import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.config import EmailTarget
from workers.procurement.channels.documents import file_stem, message_id, render_csv
from workers.procurement.channels.errors import PermanentSendError, TransientSendError
from workers.procurement.channels.pdf import money, quantity, render_pdf
from workers.procurement.channels.settings import ChannelSettings


def _one_line(text: str) -> str:
    """A name from master data, fit for a header: no line breaks (they would inject headers)."""
    return " ".join(text.split())


def compose(order: PurchaseOrder, target: EmailTarget, *, sender: str, at: datetime) -> EmailMessage:
    """The message: a plain-text summary, the PO as `<PO>.pdf` and `<PO>.csv`."""
    message = EmailMessage()
    message["From"] = formataddr((_one_line(order.tenant_name), sender))
    message["To"] = ", ".join(target.to)
    if target.cc:
        message["Cc"] = ", ".join(target.cc)
    message["Subject"] = (
        f"Purchase order {_one_line(order.po_number)} from {_one_line(order.tenant_name)}, "
        f"delivery {order.delivery_date.isoformat()}"
    )
    message["Message-ID"] = message_id(order, sender.rpartition("@")[2])
    message["Date"] = format_datetime(at)
    lines = "\n".join(
        f"  {line.ingredient_name}: {quantity(line.quantity, line.unit)} "
        f"at {money(line.unit_price, order.currency)} / {line.unit} = {money(line.amount, order.currency)}"
        for line in order.lines
    )
    message.set_content(
        f"Dear {order.supplier_name},\n\n"
        f"{order.tenant_name} orders the following for delivery on {order.delivery_date.isoformat()}:\n\n"
        f"{lines}\n\nTotal: {money(order.total, order.currency)}\n\n"
        f"The order is attached as PDF and CSV. Please quote {order.po_number} on the delivery note and "
        "the invoice. If this order reaches you twice, it is the same order: its number and Message-ID "
        "are the same.\n"
    )
    stem = file_stem(order)
    message.add_attachment(render_pdf(order), maintype="application", subtype="pdf", filename=f"{stem}.pdf")
    message.add_attachment(render_csv(order).decode(), subtype="csv", filename=f"{stem}.csv")
    return message


def _refusal(code: int, what: str) -> TransientSendError | PermanentSendError:
    if 400 <= code < 500:
        return TransientSendError(f"{what} (SMTP {code}, temporary)")
    return PermanentSendError(f"{what} (SMTP {code})")


def relay_of(settings: ChannelSettings) -> str:
    """The relay's name for messages; PermanentSendError when none is configured."""
    if not settings.smtp_host or not settings.smtp_from:
        raise PermanentSendError(
            "email channel, but no SMTP relay configured: set BAKEPLAN_SMTP_HOST and BAKEPLAN_SMTP_FROM"
        )
    return f"SMTP relay {settings.smtp_host}:{settings.smtp_port}"


async def send_email(
    order: PurchaseOrder, target: EmailTarget, settings: ChannelSettings, *, at: datetime, timeout_seconds: float
) -> str:
    """Send one attempt; the relay's reply as the receipt. Raises TransientSendError or PermanentSendError."""
    relay_of(settings)
    message = compose(order, target, sender=settings.smtp_from, at=at)
    return await send_message(message, settings, timeout_seconds=timeout_seconds)


async def send_message(message: EmailMessage, settings: ChannelSettings, *, timeout_seconds: float) -> str:
    """Send one composed message through the relay (a purchase order, a bakery's notification): one
    attempt, the relay's reply as the receipt. Raises TransientSendError or PermanentSendError."""
    relay = relay_of(settings)
    try:
        return await _deliver(message, settings, relay, timeout_seconds)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise _refusal(max(codes), f"{relay} refused every recipient: {exc.recipients}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _refusal(exc.code, f"{relay} refused: {exc.message}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentSendError(f"{relay}: certificate not trusted ({exc}); set BAKEPLAN_SMTP_CA_FILE") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:  # connection refused, dropped, timed out
        raise TransientSendError(f"{relay} unreachable: {exc!r}") from exc


async def _deliver(message: EmailMessage, settings: ChannelSettings, relay: str, timeout_seconds: float) -> str:
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_security == "tls",
        start_tls=False,  # upgraded below, after checking that the relay offers it
        cert_bundle=settings.smtp_ca_file or None,
        timeout=timeout_seconds,
    )
    async with client:
        await client.ehlo()
        if settings.smtp_security == "starttls":
            if not client.supports_extension("starttls"):
                raise PermanentSendError(f"{relay} does not offer STARTTLS; check BAKEPLAN_SMTP_SECURITY")
            await client.starttls()
            await client.ehlo()  # the relay's extensions again, now over TLS (AUTH is often offered only then)
        if settings.smtp_username:
            if not client.supports_extension("auth"):
                raise PermanentSendError(f"{relay} offers no AUTH; check BAKEPLAN_SMTP_USERNAME")
            await client.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        refused, reply = await client.send_message(message)
    if refused:
        worst = max(response.code for response in refused.values())
        raise _refusal(worst, f"{relay} refused some recipients: {refused}")
    return f"{message['Message-ID']}: {reply}"
