"""CPU cost of tracing one message hop, off and on: `uv run python -m bench.trace_overhead [--hops N]`.

One hop is what the consumer shell, a handler and the relay do per record: the `process` span from the
record's `traceparent`, a `transaction` span, a `plan` span, the outbox row's `traceparent`, and the
relay's `send` span with its header. Measured in process CPU seconds (not wall time, which a shared
machine's load distorts), first with the API's no-op (tracing off), then with the SDK batching spans
to an OTLP/HTTP receiver in this process (tracing on; the export thread's CPU counts too).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from uuid import uuid4

from contracts.messages import PlanningRequested
from infra import tracing

HEADERS = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]


def hops(n: int) -> float:
    """CPU seconds for `n` hops."""
    message = PlanningRequested(
        event_id=uuid4(),
        tenant_id="bench",
        saga_id=uuid4(),
        occurred_at=datetime.now(UTC),
        business_date=datetime.now(UTC).date(),
        source="operator",
    )
    started = time.process_time()
    for _ in range(n):
        with (
            tracing.consuming(consumer="bench", topic="t", headers=HEADERS, message=message),
            tracing.span("transaction bench"),
        ):
            with tracing.span("plan bench"):
                pass
            row = tracing.current_traceparent()
        sending, _ = tracing.start_send(row, topic="t", event_type="x", event_id="e", tenant_id="bench")
        tracing.end_send(sending, None)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hops", type=int, default=20_000)
    args = parser.parse_args()
    hops(1000)  # warm up
    off = hops(args.hops)
    # the receiver in a process of its own: its decoding is not this process's CPU
    receiver = subprocess.Popen([sys.executable, "-m", "tests.e2e.otlp_receiver"], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.stdout.readline().strip().partition("=")[2]
    os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", str(8 * args.hops))  # keep every span: count its export
    tracing.configure("bench")
    hops(1000)
    on_started = time.process_time()
    on = hops(args.hops)
    tracing.shutdown(timeout_s=30)
    on_total = time.process_time() - on_started  # with the export of the last batches
    receiver.send_signal(signal.SIGTERM)
    received = receiver.stdout.read().strip()
    receiver.wait()
    print(f"{args.hops} hops, 4 spans each; the receiver: {received}")
    print(f"off: {off / args.hops * 1e6:.1f} µs CPU per hop")
    print(f"on:  {on / args.hops * 1e6:.1f} µs CPU per hop ({on_total / args.hops * 1e6:.1f} with the export)")


if __name__ == "__main__":
    main()
