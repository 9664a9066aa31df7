"""infra/tracing.py: when the OTEL_* variables switch traces on, and how one trace passes a record's
`traceparent`, a handler's transaction, an outbox row and the relay's send (docs/tracing.md)."""

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contracts.messages import PlanningRequested
from infra import tracing
from infra.logs import JsonFormatter

pytestmark = pytest.mark.unit

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
SAGA = UUID("6a1f0f0e-3f53-4c8e-9a55-6f0e8d7f7c11")


@pytest.mark.parametrize(
    ("environ", "exporter"),
    [
        ({}, "none"),
        ({"OTEL_SERVICE_NAME": "x"}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, "none"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "Console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "otlp"),
    ],
)
def test_traces_are_off_unless_an_otel_variable_asks_for_them(environ: dict[str, str], exporter: str) -> None:
    assert tracing.tracing_choice(environ).exporter == exporter


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER='jaeger'"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"),
    ],
)
def test_an_exporter_bakeplan_does_not_ship_is_refused_naming_the_variable_and_the_fix(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(tracing.TracingConfigError, match="set") as refused:
        tracing.tracing_choice(environ)
    assert named in str(refused.value)


@pytest.fixture(scope="module")
def exported() -> InMemorySpanExporter:
    """An SDK provider for this process (the API allows one): spans kept in memory."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exported: InMemorySpanExporter) -> InMemorySpanExporter:
    exported.clear()
    return exported


def a_trigger() -> PlanningRequested:
    return PlanningRequested(
        event_id=UUID("11111111-2222-4333-8444-555555555555"),
        tenant_id="kiel",
        saga_id=SAGA,
        occurred_at=datetime(2026, 11, 28, 5, tzinfo=UTC),
        business_date=datetime(2026, 11, 28).date(),
        source="operator",
        requested_by="test",
    )


def by_name(found: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in found}


def test_a_record_with_a_traceparent_continues_its_trace_through_transaction_outbox_row_and_send(
    spans: InMemorySpanExporter,
) -> None:
    message = a_trigger()
    headers = [("event_type", b"planning.requested"), ("traceparent", TRACEPARENT.encode())]
    with (
        tracing.consuming(consumer="orchestrator", topic="t.triggers", headers=headers, message=message),
        tracing.span("transaction orchestrator"),
    ):
        row_traceparent = tracing.current_traceparent()
        ids = tracing.current_ids()
    sending, send_headers = tracing.start_send(
        row_traceparent, topic="t.commands", event_type="planning.forecast_demand", event_id="e1", tenant_id="kiel"
    )
    tracing.end_send(sending, None)

    found = by_name(spans.get_finished_spans())
    consumed = found["process planning.requested"]
    transaction = found["transaction orchestrator"]
    sent = found["send planning.forecast_demand"]
    assert {format(s.context.trace_id, "032x") for s in found.values()} == {TRACE_ID}
    assert consumed.kind is SpanKind.CONSUMER
    assert consumed.parent is not None
    assert format(consumed.parent.span_id, "016x") == PARENT
    assert consumed.parent.is_remote
    assert transaction.parent is not None
    assert transaction.parent.span_id == consumed.context.span_id
    assert row_traceparent == f"00-{TRACE_ID}-{transaction.context.span_id:016x}-01", "the row keeps its writer's span"
    assert ids == (TRACE_ID, f"{transaction.context.span_id:016x}")
    assert sent.kind is SpanKind.PRODUCER
    assert sent.parent is not None
    assert sent.parent.span_id == transaction.context.span_id
    assert dict(send_headers)["traceparent"] == f"00-{TRACE_ID}-{sent.context.span_id:016x}-01".encode()
    for span in (consumed, transaction):
        attributes = dict(span.attributes or {})
        assert attributes[tracing.TENANT] == "kiel"
        assert attributes[tracing.SAGA] == str(SAGA)
        assert attributes[tracing.EVENT_ID] == str(message.event_id)
        assert attributes[tracing.EVENT_TYPE] == "planning.requested"
        assert not any("business_date" in key for key in attributes), "no payload on spans"


def test_a_record_without_a_traceparent_starts_a_trace_of_its_own(spans: InMemorySpanExporter) -> None:
    with tracing.consuming(consumer="orchestrator", topic="t.triggers", headers=[], message=a_trigger()):
        pass
    (root,) = spans.get_finished_spans()
    assert root.parent is None
    assert format(root.context.trace_id, "032x") != TRACE_ID


def test_without_a_current_span_nothing_is_started_and_no_row_carries_a_trace(spans: InMemorySpanExporter) -> None:
    with tracing.span("transaction orchestrator"):  # a deadline scan's transaction
        assert tracing.current_traceparent() is None
    assert tracing.start_send(None, topic="t", event_type="x", event_id="e", tenant_id="kiel") == (None, [])
    assert spans.get_finished_spans() == ()


def test_a_refused_send_ends_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    sending, _ = tracing.start_send(TRACEPARENT, topic="t", event_type="x", event_id="e", tenant_id="kiel")
    tracing.end_send(sending, RuntimeError("record too large"))
    (sent,) = spans.get_finished_spans()
    assert sent.status.status_code is trace.StatusCode.ERROR
    assert "record too large" in (sent.status.description or "")


def test_a_log_line_inside_a_span_carries_its_trace_id(spans: InMemorySpanExporter) -> None:
    record = logging.makeLogRecord({"msg": "planned", "name": "workers"})
    with tracing.root("trigger planning.requested", a_trigger()) as headers:
        line = json.loads(JsonFormatter("cli").format(record))
    (root,) = spans.get_finished_spans()
    assert line["trace_id"] == format(root.context.trace_id, "032x")
    assert line["span_id"] == format(root.context.span_id, "016x")
    assert dict(headers)["traceparent"].decode().split("-")[1] == line["trace_id"]
    assert "trace_id" not in json.loads(JsonFormatter("cli").format(record))


def test_a_process_whose_collector_is_gone_starts_and_stops_at_once_and_says_so_once() -> None:
    script = """
import logging, sys, time
from infra import tracing
from tests.unit.test_tracing import a_trigger
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
started = time.monotonic()
tracing.configure("forecasting")
for _ in range(2):  # two batches, two failed exports: one line
    with tracing.root("trigger planning.requested", a_trigger()):
        pass
    tracing._installed[0].force_flush(2000)
tracing.shutdown(timeout_s=1.0)
print(f"{time.monotonic() - started:.2f}")
"""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_EXPORTER_OTLP_TIMEOUT": "1"}
    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) < 8.0, "configure, two failed exports and shutdown took too long"
    said = [line for line in done.stderr.splitlines() if "opentelemetry" in line]
    assert len(said) == 1, done.stderr
    assert "collector is unreachable" in said[0]
