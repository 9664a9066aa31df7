"""A server the command needs and cannot reach: one line saying which, where, and how to fix it.

Every command runs inside `OutageAwareGroup.invoke` (the root command's class), so this is the one
place where a connection failure becomes `error: cannot reach Postgres at 127.0.0.1:55432 ...` and
exit 1. Anything else (and any failure under `--debug` or `BAKEPLAN_LOG_LEVEL=DEBUG`) propagates
with its traceback, as a bug should.
"""

import logging
import os
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import typer
from sqlalchemy.engine import make_url
from typer.core import TyperGroup
from typer.exceptions import TyperException

from bakeplan.cli.terminal import fail
from infra.messaging.acls import AclAdminError
from infra.messaging.admin import TopicsNotProvisionedError
from infra.messaging.kafka_client import KafkaSecurityConfigError
from infra.settings import Settings
from infra.tracing import TracingConfigError

Server = Literal["Postgres", "Kafka"]

_FIX: dict[Server, str] = {
    "Postgres": "start the local stack with `bakeplan stack up`, or set DATABASE_URL to a running Postgres",
    "Kafka": "start the local stack with `bakeplan stack up`, or set BAKEPLAN_KAFKA_BOOTSTRAP to a running broker",
}


@dataclass(frozen=True)
class Outage:
    """`server` could not be reached; `cause` says how it failed (e.g. "connection refused")."""

    server: Server
    cause: str
    fix: str | None = None
    """What fixes it, when not the server's usual (start it, or point the settings at it)."""

    def describe(self, settings: Settings) -> str:
        """One line: what was tried (server, host:port), why it failed, and what fixes it."""
        fix = self.fix or _FIX[self.server]
        return f"cannot reach {self.server} at {address_of(self.server, settings)} ({self.cause}); {fix}"


class KafkaRefusals(logging.Handler):
    """aiokafka logs why a secure broker refused the connection (credentials, certificate), then
    raises a bare `KafkaConnectionError`: keep the last reason for the one-line error. Prints
    nothing (the line says it better)."""

    CREDENTIALS = (
        "the broker refused the credentials",
        "check the principal's user and password (BAKEPLAN_KAFKA_USERNAME, BAKEPLAN_KAFKA_PASSWORD or "
        "BAKEPLAN_KAFKA_PASSWORD_DIR; docs/security.md)",
    )
    CERTIFICATE = (
        "the broker's certificate is not trusted",
        "set BAKEPLAN_KAFKA_CA_FILE to the CA that signed it (docs/security.md)",
    )

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.last: tuple[str, str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "SaslAuthenticationFailed" in text:
            self.last = self.CREDENTIALS
        elif "CERTIFICATE_VERIFY_FAILED" in text:
            self.last = self.CERTIFICATE


REFUSALS = KafkaRefusals()


def address_of(server: Server, settings: Settings) -> str:
    """Where `server` is expected: host:port (and database) of the URL, or the bootstrap servers."""
    if server == "Kafka":
        return settings.kafka_bootstrap
    try:
        url = make_url(settings.database_url)
    except Exception:  # noqa: BLE001 - an unparsable URL is still worth naming, as given
        return settings.database_url
    return f"{url.host or 'localhost'}:{url.port or 5432}, database {url.database or '(default)'}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or during (SQLAlchemy wraps the driver's error), once each."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]


def _modules(exc: BaseException) -> Iterator[str]:
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        yield str(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next


def _server_of(exc: BaseException) -> Server | None:
    module = type(exc).__module__
    if module.startswith("aiokafka"):
        return "Kafka"
    if module.startswith(("asyncpg", "sqlalchemy")):
        return "Postgres"
    for name in _modules(exc):  # a bare OSError: whose code was connecting when it failed
        if name.startswith("aiokafka"):
            return "Kafka"
        if name.startswith(("asyncpg", "sqlalchemy", "alembic")):
            return "Postgres"
    return None


def _cause(exc: BaseException) -> str:
    if type(exc).__name__ == "KafkaConnectionError":  # aiokafka logs each refused address, then gives up
        return REFUSALS.last[0] if REFUSALS.last else "no broker answered"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "KafkaTimeoutError":
        return "timed out"
    return f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no detail'}"


def _is_connection_failure(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
    from asyncpg.exceptions import CannotConnectNowError, PostgresConnectionError
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return False  # a wrapper: the driver's error in its chain says what happened
    return isinstance(
        exc, OSError | PostgresConnectionError | CannotConnectNowError | KafkaConnectionError | KafkaTimeoutError
    )


def find_outage(exc: BaseException) -> Outage | None:
    """The unreachable server behind `exc`, or None when `exc` is not a connection failure."""
    for link in _chain(exc):
        if _is_connection_failure(link) and (server := _server_of(link)) is not None:
            cause = _cause(link)
            refused = REFUSALS.last if REFUSALS.last and cause == REFUSALS.last[0] else None
            return Outage(server, cause, refused[1] if refused else None)
    return None


def debugging(params: dict[str, Any]) -> bool:
    """True under `--debug` or `BAKEPLAN_LOG_LEVEL=DEBUG`: then failures keep their tracebacks."""
    return bool(params.get("debug")) or os.environ.get("BAKEPLAN_LOG_LEVEL", "").upper() == "DEBUG"


def quiet_client_logs(params: dict[str, Any]) -> None:
    """aiokafka logs every failed connection attempt; the one-line error says it better."""
    if not debugging(params):
        # its records go to REFUSALS only, which keeps a refusal's reason and prints none of them
        client_log = logging.getLogger("aiokafka")
        client_log.setLevel(logging.WARNING)
        client_log.propagate = False
        if REFUSALS not in client_log.handlers:
            client_log.addHandler(REFUSALS)


class OutageAwareGroup(TyperGroup):
    """The root command: a command that cannot reach Postgres or Kafka exits 1 with one line."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer passes its own Context
        REFUSALS.last = None  # a reason heard by an earlier command of this process is not this one's
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # exits, usage errors: already said
            raise
        except (KafkaSecurityConfigError, TopicsNotProvisionedError, AclAdminError) as exc:
            if debugging(ctx.params):
                raise
            fail(str(exc), 1)  # the message names the setting or the step that fixes it
        except TracingConfigError as exc:  # an OTEL_* variable this build cannot follow: bad input
            fail(str(exc), 2)
        except Exception as exc:
            outage = find_outage(exc)
            if outage is None or debugging(ctx.params):
                raise
            fail(outage.describe(Settings()), 1)
