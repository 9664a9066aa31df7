"""A real OTLP/HTTP trace receiver for the tests: `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest` (as a collector takes it), decoded with opentelemetry-proto and kept as
`ReceivedSpan`s. `span_tree` prints one trace as an indented tree, for a person and the docs."""

import contextlib
import gzip
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

PORTS = range(17460, 17480)
"""Where the receiver listens: the first free port of these."""

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    service: str
    attributes: dict[str, str]
    start_ns: int
    end_ns: int

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _text(value: AnyValue) -> str:
    field = value.WhichOneof("value")
    return "" if field is None else str(getattr(value, field))


class Receiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self._lock = threading.Lock()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _text(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=KINDS.get(span.kind, str(span.kind)),
                            service=resource.get("service.name", ""),
                            attributes={a.key: _text(a.value) for a in span.attributes},
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                        )
                    )
        with self._lock:
            self.spans += found
            self.requests += 1

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def snapshot(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            if self.path.rstrip("/") != "/v1/traces":
                self.send_error(404, "only /v1/traces")
                return
            receiver.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass  # no line per export on the test's output

    return Handler


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the OTLP receiver")


@contextlib.contextmanager
def otlp_receiver() -> Iterator[tuple[Receiver, str]]:
    """A running receiver and its endpoint (for OTEL_EXPORTER_OTLP_ENDPOINT)."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), _handler(receiver))
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def span_tree(spans: list[ReceivedSpan]) -> str:
    """One trace as an indented tree: `name [service] ms`, children in start order."""
    children: dict[str, list[ReceivedSpan]] = {}
    ids = {s.span_id for s in spans}
    for span in spans:
        children.setdefault(span.parent_id if span.parent_id in ids else "", []).append(span)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_ns):
            lines.append(f"{'  ' * depth}{span.name}  [{span.service}]  {span.ms:.1f} ms")
            walk(span.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)


def main() -> None:
    """`uv run python -m tests.e2e.otlp_receiver`: a receiver for a benchmark's processes; prints its
    endpoint, and on SIGTERM or SIGINT how many spans and traces it took."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with otlp_receiver() as (receiver, endpoint):
        print(f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}", flush=True)
        stop.wait()
        spans = receiver.snapshot()
        traces = len({s.trace_id for s in spans})
        print(f"{len(spans)} spans in {traces} traces, {receiver.requests} requests", flush=True)
        ids = {s.span_id for s in spans}
        roots = Counter(f"{s.name} [{s.service}]" for s in spans if not s.parent_id)
        orphans = Counter(f"{s.name} [{s.service}]" for s in spans if s.parent_id and s.parent_id not in ids)
        print(f"roots: {dict(roots)}; parent not received: {dict(orphans)}", flush=True)


if __name__ == "__main__":
    main()
