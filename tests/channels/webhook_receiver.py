"""A supplier's webhook endpoint: a real HTTP server (stdlib, in a thread) that answers from a script
and keeps every request it got, so a test can check them as the supplier would."""

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    """One answer. `hang_seconds`: wait this long before answering (the client times out first);
    `after_requests`: hold the answer until this many requests arrived (replicas racing)."""

    status: int = 200
    body: bytes = b'{"accepted": true}'
    headers: tuple[tuple[str, str], ...] = ()
    hang_seconds: float = 0.0
    after_requests: int = 0


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class WebhookReceiver:
    """Answers the n-th request with `script[n]`, and with `then` after the script."""

    script: Sequence[Reply] = ()
    then: Reply = Reply()
    requests: list[Request] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    """The status the n-th request was answered with (a hung answer counts: the supplier processed it)."""
    url: str = ""
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def take(self, request: Request) -> Reply:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            n = len(self.requests) - 1
            reply = self.script[n] if n < len(self.script) else self.then
            self.answers.append(reply.status)
        return reply

    def accepted(self) -> dict[str, Request]:
        """What the supplier keeps, deduplicated as a supplier would: per Idempotency-Key, the first
        request it accepted (2xx), including one whose answer came too late for the sender."""
        with self._changed:
            pairs = list(zip(self.requests, self.answers, strict=True))
        kept: dict[str, Request] = {}
        for request, status in pairs:
            if 200 <= status < 300:
                kept.setdefault(request.headers.get("idempotency-key", ""), request)
        return kept

    def hold(self, reply: Reply) -> None:
        if reply.hang_seconds:
            self._stopping.wait(reply.hang_seconds)
        if reply.after_requests:
            with self._changed:
                self._changed.wait_for(lambda: len(self.requests) >= reply.after_requests, timeout=10)

    def stop(self) -> None:
        self._stopping.set()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
            reply = receiver.take(request)
            receiver.hold(reply)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (its timeout): as a real server, nothing to do

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def webhook_server(receiver: WebhookReceiver) -> Iterator[WebhookReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/bakeplan/orders"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
