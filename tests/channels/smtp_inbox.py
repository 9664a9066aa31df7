"""A real SMTP server (aiosmtpd, in its own thread) that keeps what it receives, refuses on cue, and can
require STARTTLS and a login, or speak implicit TLS."""

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None
    over_tls: bool

    def attachment(self, filename: str) -> bytes:
        for part in self.message.iter_attachments():
            if part.get_filename() == filename:
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload
        names = [part.get_filename() for part in self.message.iter_attachments()]
        raise AssertionError(f"no attachment {filename!r}; the message has {names}")


@dataclass
class Inbox:
    """What the server received. `refusals` are replies to the next DATA commands (then it accepts)."""

    port: int
    refusals: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.data_commands += 1
        if self.refusals:
            return self.refusals.pop(0)
        assert isinstance(envelope.content, bytes)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        over_tls = session.ssl is not None or (
            server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
        )
        self.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), message, login, over_tls))
        return "250 2.0.0 OK: queued"

    def orders(self) -> dict[str, Received]:
        """What the supplier keeps, deduplicated as a supplier would: the first message per Message-ID
        (every send of one purchase order carries the same one, derived from the PO number)."""
        kept: dict[str, Received] = {}
        for received in self.received:
            kept.setdefault(str(received.message["Message-ID"]), received)
        return kept


def password_check(user: str, password: str) -> Any:
    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (user.encode(), password.encode())
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    return authenticate


@contextmanager
def smtp_server(
    inbox: Inbox,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[Inbox]:
    """Serve `inbox` on 127.0.0.1:`inbox.port` until the block ends."""
    options: dict[str, Any] = {}
    if starttls is not None:
        options.update(tls_context=starttls, require_starttls=True)
    if login is not None:
        options.update(authenticator=password_check(*login), auth_required=True, auth_require_tls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, ssl_context=implicit_tls, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
