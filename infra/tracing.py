"""OpenTelemetry traces: one trace per saga, from its trigger to plan-ready, across every process.

The W3C trace context travels in each Kafka record's `traceparent` header. It passes through the
outboxes: `outbox.add` stores the context of the span current in the writing transaction on the row
(`current_traceparent`), and the relay publishes the row inside a `send` span that is that context's
child, with the `send` span's own context as the header (`start_send`). A consumer continues the
trace from the header (`consuming`); a record without one starts a new trace (a trigger from a
scheduler scan or a producer that sends none), one with it (from the CLI's `trigger`, or an outside
producer) continues that trace.

Spans: `process <event_type>` per handled message (CONSUMER), `transaction <component>` per handler
transaction (`transaction`, `span`), `plan <step>` per planner call, `send <event_type>` per
published record (PRODUCER). Each carries the message's tenant, saga id, event id, event type and
the process's role (`bakeplan.*` attributes); never a payload. `transaction` and `span` start a
span only under a current one, so background scans (deadlines, schedules, the relay's polls) make
no traces of their own.

Export is configured by the standard `OTEL_*` variables and is off unless they ask for it
(`tracing_choice`); off, the API stays a no-op and a `traceparent` that came in is still passed on.
Nothing here connects at import time; `configure` installs the provider of one process.
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Message
from contracts.headers import TRACEPARENT, TRACESTATE
from infra.messaging import batch_tx

log = logging.getLogger(__name__)

TENANT = "bakeplan.tenant_id"
SAGA = "bakeplan.saga_id"
EVENT_ID = "bakeplan.event_id"
EVENT_TYPE = "bakeplan.event_type"
ROLE = "bakeplan.role"

Exporter = Literal["otlp", "console", "none"]
Headers = Sequence[tuple[str, bytes]]
Sending = Span | None
"""A `send` span in flight (`start_send`), or None for a row without a trace."""

_W3C = TraceContextTextMapPropagator()
# a proxy: it follows the provider `configure` installs (the API's no-op one until then)
_TRACER = trace.get_tracer("bakeplan")
_message: ContextVar[Mapping[str, str]] = ContextVar("bakeplan_trace_message", default=MappingProxyType({}))


class TracingConfigError(ValueError):
    """An `OTEL_*` variable asks for something this build cannot do; the message names it and the fix."""


@dataclass(frozen=True)
class TracingChoice:
    exporter: Exporter
    why: str


def tracing_choice(environ: Mapping[str, str]) -> TracingChoice:
    """What the `OTEL_*` variables ask for. Off unless asked: `OTEL_TRACES_EXPORTER=otlp|console`, or
    an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) without
    `OTEL_TRACES_EXPORTER`. `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true` switch it off.
    Raises `TracingConfigError` for an exporter or protocol bakeplan does not ship."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracingChoice("none", "OTEL_SDK_DISABLED=true")
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not named:
        if not endpoint:
            return TracingChoice("none", "no OTEL_EXPORTER_OTLP_ENDPOINT and no OTEL_TRACES_EXPORTER")
        named = "otlp"
    if named not in ("otlp", "console", "none"):
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={named!r}: bakeplan exports traces by 'otlp' (OTLP/HTTP protobuf) or 'console'; "
            "set one of them, or 'none' to switch tracing off"
        )
    if named == "otlp":
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        ).strip()
        if protocol not in ("", "http/protobuf"):
            raise TracingConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: bakeplan ships the OTLP/HTTP protobuf exporter only; "
                "set it to 'http/protobuf' (a collector's port 4318) or leave it unset"
            )
        return TracingChoice("otlp", f"to {endpoint or 'http://localhost:4318 (the OTLP default)'}")
    return TracingChoice(named, f"OTEL_TRACES_EXPORTER={named}")  # type: ignore[arg-type]


class _RoleAttribute:
    """A span processor that puts the process's role on every span it starts."""

    def __init__(self, role: str) -> None:
        self._role = role

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span.set_attribute(ROLE, self._role)

    def on_end(self, span: object) -> None:
        pass

    def _on_ending(self, span: object) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _NowAndThen(logging.Filter):
    """Lets one line through every `seconds`: an unreachable collector is worth a line, not one per batch."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self._seconds = seconds
        self._last = -seconds

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self._seconds:
            return False
        self._last = now
        record.msg = f"{record.msg} (traces are dropped while the collector is unreachable; said once a minute)"
        return True


def _quiet_exporter_logs() -> None:
    # the exporter retries on its own and logs each retry as a WARNING: only its final failures count,
    # and those at most once a minute
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)
    once_a_minute = _NowAndThen(60.0)
    for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.exporter.otlp.common.http"):
        logging.getLogger(name).addFilter(once_a_minute)


_installed: list[object] = []


def configure(role: str, environ: Mapping[str, str] | None = None) -> TracingChoice:
    """Install this process's tracer provider as the `OTEL_*` variables ask (`tracing_choice`): spans
    batched and exported in a background thread, so no span waits on the network and start-up does not
    connect. The resource is `service.name=bakeplan-<role>` unless `OTEL_SERVICE_NAME` (or
    `OTEL_RESOURCE_ATTRIBUTES`) names it, plus `bakeplan.role`. Call once per process; `shutdown` at exit."""
    env = os.environ if environ is None else environ
    choice = tracing_choice(env)
    if choice.exporter == "none" or _installed:
        return choice
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    attributes = {ROLE: role}
    if not env.get("OTEL_SERVICE_NAME") and "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = f"bakeplan-{role}"
    # our own bounded `shutdown` at exit, not the SDK's atexit hook (which waits out a missing collector)
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=False)
    role_attribute: SpanProcessor = _RoleAttribute(role)  # type: ignore[assignment]
    provider.add_span_processor(role_attribute)
    exporter: SpanExporter
    if choice.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    _quiet_exporter_logs()
    trace.set_tracer_provider(provider)
    _installed.append(provider)
    return choice


def shutdown(timeout_s: float = 3.0) -> None:
    """Export what is left, waiting at most `timeout_s` seconds: a process stops on time even when the
    collector is gone (the export thread is a daemon, and what it still holds is dropped)."""
    while _installed:
        provider = _installed.pop()
        done = threading.Thread(target=provider.shutdown, name="bakeplan-trace-shutdown", daemon=True)  # type: ignore[attr-defined]
        done.start()
        done.join(timeout_s)


@contextlib.contextmanager
def session(role: str) -> Iterator[None]:
    """`configure` for the block and `shutdown` after it: a short-lived command's traces (the CLI)."""
    configure(role)
    try:
        yield
    finally:
        shutdown()


def message_attributes(message: Message) -> dict[str, str]:
    """The span attributes of a message: tenant, saga, event id and type (never its payload)."""
    found = {TENANT: message.tenant_id, EVENT_ID: str(message.event_id), EVENT_TYPE: message.event_type}
    if message.saga_id is not None:
        found[SAGA] = str(message.saga_id)
    return found


def _context_of(headers: Headers | None) -> Context:
    carrier = {
        name: bytes(value).decode("ascii", errors="replace")
        for name, value in headers or ()
        if name in (TRACEPARENT, TRACESTATE) and value is not None
    }
    return _W3C.extract(carrier)


def headers_of_current() -> list[tuple[str, bytes]]:
    """The current span's context as Kafka headers (`traceparent`, and `tracestate` when there is one)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return [(name, value.encode("ascii")) for name, value in carrier.items()]


def current_traceparent() -> str | None:
    """The current span's W3C `traceparent`, or None when no trace is current (what an outbox row keeps)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(TRACEPARENT)


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as hex, or None: what log lines carry."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


@contextlib.contextmanager
def consuming(*, consumer: str, topic: str, headers: Headers | None, message: Message) -> Iterator[Span]:
    """The span of handling one record: a child of the record's `traceparent`, or a new trace's root.
    Spans started inside it (`span`, `transaction`) carry the message's attributes too."""
    attributes = message_attributes(message)
    with _TRACER.start_as_current_span(
        f"process {message.event_type}",
        context=_context_of(headers),
        kind=SpanKind.CONSUMER,
        attributes={
            **attributes,
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": consumer,
        },
    ) as current:
        token = _message.set(attributes)
        try:
            yield current
        finally:
            _message.reset(token)


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, str] | None = None) -> Iterator[None]:
    """A child of the current span with the current message's attributes (and `attributes`), e.g.
    `plan forecasting`. Without a current span (a background scan) nothing is started."""
    if not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    with _TRACER.start_as_current_span(name, attributes={**_message.get(), **(attributes or {})}):
        yield


@contextlib.asynccontextmanager
async def transaction(engine: AsyncEngine, component: str) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()` inside a `transaction <component>` span (from the first statement to the
    commit): outbox rows written in it carry this span's context. Inside a batch of the consumer shell
    it is the batch's transaction (`infra.messaging.batch_tx`)."""
    with span(f"transaction {component}"):
        async with batch_tx.transaction(engine) as conn:
            yield conn


@contextlib.contextmanager
def root(name: str, message: Message) -> Iterator[list[tuple[str, bytes]]]:
    """A PRODUCER span that starts a trace (or continues the current one) for sending `message`;
    yields the headers that carry it."""
    with _TRACER.start_as_current_span(
        name,
        kind=SpanKind.PRODUCER,
        attributes={**message_attributes(message), "messaging.system": "kafka", "messaging.operation.type": "send"},
    ):
        yield headers_of_current()


def start_send(
    traceparent: str | None, *, topic: str, event_type: str, event_id: str, tenant_id: str
) -> tuple[Span | None, list[tuple[str, bytes]]]:
    """The `send <event_type>` span of publishing one outbox row, a child of the row's `traceparent`,
    and the headers carrying it; (None, []) for a row without one. End it with `end_send`."""
    if traceparent is None:
        return None, []
    sending = _TRACER.start_span(
        f"send {event_type}",
        context=_W3C.extract({TRACEPARENT: traceparent}),
        kind=SpanKind.PRODUCER,
        attributes={
            TENANT: tenant_id,
            EVENT_ID: event_id,
            EVENT_TYPE: event_type,
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
        },
    )
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(sending))
    return sending, [(name, value.encode("ascii")) for name, value in carrier.items()]


def end_send(sending: Span | None, error: BaseException | None) -> None:
    """End a `start_send` span once Kafka answered: with the error when it refused the record."""
    if sending is None:
        return
    if error is not None:
        sending.set_status(Status(StatusCode.ERROR, repr(error)[:500]))
    sending.end()


def mark_outcome(current: Span, outcome: str, *, failed: bool) -> None:
    """Record how the consumer shell ended a record on its span (`handled`, `retry_scheduled`, ...)."""
    current.set_attribute("bakeplan.outcome", outcome)
    if failed:
        current.set_status(Status(StatusCode.ERROR, outcome))
