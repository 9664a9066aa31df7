"""The consumer shell puts the message it handles, and the trace it continues, into every log line its
handler writes."""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from contracts.envelope import Message
from infra.logs import JsonFormatter
from infra.messaging.codec import decode, encode
from infra.messaging.consumer import DeliveryPolicy, subscribe
from infra.metrics import Metrics
from tests.golden.write import path_of

pytestmark = pytest.mark.unit

OnRecord = Callable[[Any], Awaitable[None]]


class FakeBroker:
    """Takes the record handler `subscribe` registers, so a test can call it."""

    def __init__(self) -> None:
        self.on_record: OnRecord | None = None

    def subscriber(self, *_: object, **__: object) -> Callable[[OnRecord], OnRecord]:
        def register(handler: OnRecord) -> OnRecord:
            self.on_record = handler
            return handler

        return register


class FakeKafkaMessage:
    def __init__(self, raw: ConsumerRecord[bytes, bytes]) -> None:
        self.raw_message = raw
        self.consumer = None
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def a_record(message: Message) -> ConsumerRecord[bytes, bytes]:
    value = encode(message)
    key = message.tenant_id.encode()
    headers = (("traceparent", TRACEPARENT.encode()),)
    return ConsumerRecord("bakeplan.planning.replies", 3, 17, 0, 0, key, value, None, len(key), len(value), headers)


async def test_a_handlers_log_lines_carry_the_message_it_handles() -> None:
    reply = decode(path_of("planning.step_failed", 1).read_bytes())
    lines: list[dict[str, Any]] = []

    async def handler(message: Message) -> None:
        log = logging.getLogger("orchestrator.service")
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "recorded %s", (message.event_type,), None)
        lines.append(json.loads(JsonFormatter("orchestrator").format(record)))

    broker = FakeBroker()
    policy = DeliveryPolicy(max_attempts=3, retry_base_seconds=0.01)
    subscribe(broker, None, topic="bakeplan.planning.replies", consumer="orchestrator",  # type: ignore[arg-type]
              handler=handler, policy=policy, metrics=Metrics())  # fmt: skip
    assert broker.on_record is not None
    delivered = FakeKafkaMessage(a_record(reply))

    await broker.on_record(delivered)

    assert delivered.acked
    (line,) = lines
    assert line["message"] == "recorded planning.step_failed"
    assert line["tenant_id"] == reply.tenant_id
    assert line["saga_id"] == str(reply.saga_id)
    assert line["event_id"] == str(reply.event_id)
    assert line["event_type"] == "planning.step_failed"
    assert line["trace_id"] == TRACE_ID, "the trace the record's traceparent names, continued by the handler"
    outside = json.loads(JsonFormatter("orchestrator").format(logging.makeLogRecord({"msg": "after"})))
    assert "tenant_id" not in outside
    assert "trace_id" not in outside
