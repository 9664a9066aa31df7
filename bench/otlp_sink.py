"""An OTLP/HTTP endpoint that takes every trace export and keeps only counts: the receiving end of
the tracing-overhead benchmark (docs/observability.md, "Overhead"). It answers `POST /v1/traces`
with 200 and an empty `ExportTraceServiceResponse`, so the processes' exporters never retry; it
does not decode the spans, so its own CPU stays out of the way of the processes measured.

    uv run python -m bench.otlp_sink --port 4318
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 BAKEPLAN_METRICS_PORT=19450 \
      uv run python -m bench.system --quick
"""

import argparse
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("bench.otlp_sink")


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0


COUNTS = _Counts()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with COUNTS.lock:
            COUNTS.requests += 1
            COUNTS.bytes += len(body)
            if COUNTS.requests % 100 == 1:  # a line now and then: the run's log shows exports arrived
                log.info("received %d exports, %d bytes", COUNTS.requests, COUNTS.bytes)
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    log.info("otlp sink on http://127.0.0.1:%d/v1/traces", args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("received %d exports, %d bytes", COUNTS.requests, COUNTS.bytes)


if __name__ == "__main__":
    main()
