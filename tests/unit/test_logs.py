"""Log lines of the serve processes (infra/logs.py): one JSON object per line with the message's
context, readable text on request, and the Kafka clients' retry chatter kept out."""

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import faststream.kafka  # noqa: F401 - gives the "faststream" logger its own handler, as in a serve process
import pytest

from infra import logs
from infra.logs import JsonFormatter, QuietClientRetries, TextFormatter, message_context

pytestmark = pytest.mark.unit

SAGA = UUID("00000000-0000-4000-8000-000000000002")
EVENT = UUID("00000000-0000-4000-8000-000000000003")


def a_record(message: str, *args: object, name: str = "orchestrator.service", **extra: Any) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, logging.WARNING, __file__, 1, message, args, None, extra=extra)


def one_json_object(line: str) -> dict[str, Any]:
    assert "\n" not in line, line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_a_json_line_has_time_level_logger_message_and_role() -> None:
    line = one_json_object(JsonFormatter("forecasting").format(a_record("planned %d batches", 12)))

    assert line["message"] == "planned 12 batches"
    assert (line["level"], line["logger"], line["role"]) == ("WARNING", "orchestrator.service", "forecasting")
    assert line["ts"].endswith("+00:00")
    assert isinstance(line["pid"], int)


def test_inside_a_message_context_every_line_carries_tenant_saga_and_event() -> None:
    with message_context(tenant_id="kiel", saga_id=SAGA, event_id=EVENT, event_type="planning.requested"):
        line = one_json_object(JsonFormatter("orchestrator").format(a_record("started")))
    after = one_json_object(JsonFormatter("orchestrator").format(a_record("idle")))

    assert line["tenant_id"] == "kiel"
    assert line["saga_id"] == str(SAGA)
    assert line["event_id"] == str(EVENT)
    assert line["event_type"] == "planning.requested"
    assert not set(logs.CONTEXT_FIELDS) & set(after), "the context ends with its block"


def test_unknown_context_is_left_out_and_extra_fields_are_kept() -> None:
    with message_context(tenant_id="kiel", saga_id=None):
        line = one_json_object(JsonFormatter("orchestrator").format(a_record("x", consumer="orchestrator-feeds")))

    assert "saga_id" not in line
    assert line["consumer"] == "orchestrator-feeds"


def test_a_line_with_exc_info_is_still_one_json_object_with_the_traceback() -> None:
    try:
        raise RuntimeError('db down\n"quoted" and multi-line')
    except RuntimeError:
        outbox = logging.getLogger("infra.messaging.outbox")
        failed = sys.exc_info()
        record = outbox.makeRecord(outbox.name, logging.ERROR, __file__, 1, "relay failed; retrying", (), failed)

    text = JsonFormatter("production").format(record)
    line = one_json_object(text)

    assert text.count("\n") == 0
    assert line["exc_type"] == "RuntimeError"
    assert "Traceback (most recent call last)" in line["exc"]
    assert 'RuntimeError: db down\n"quoted" and multi-line' in line["exc"]
    assert line["message"] == "relay failed; retrying"


def test_a_text_line_names_role_and_context_after_the_message() -> None:
    with message_context(tenant_id="kiel", saga_id=SAGA):
        text = TextFormatter("procurement").format(a_record("voided %d lines", 3))

    assert " procurement WARNING orchestrator.service: voided 3 lines [tenant_id=kiel saga_id=" in text
    assert text.endswith(f"saga_id={SAGA}]")


@pytest.mark.parametrize(
    "message",
    [
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError",
        "Marking the coordinator dead (node 1)for group bakeplan.orchestrator.",
        "Heartbeat failed for group bakeplan.orchestrator because it is rebalancing",
        "Topic bakeplan.planning.triggers is not available during auto-create initialization",
    ],
)
def test_the_kafka_clients_retry_chatter_is_dropped(message: str) -> None:
    assert not QuietClientRetries().filter(a_record(message, name="aiokafka.consumer.group_coordinator"))


def test_other_client_errors_and_bakeplans_own_lines_stay() -> None:
    quiet = QuietClientRetries()

    assert quiet.filter(a_record("Unable connect to node with id 1: [Errno 111] Connect call failed", name="aiokafka"))
    assert quiet.filter(a_record("a tenant's saga is rebalancing", name="orchestrator.service"))


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("aiokafka", "faststream", "faststream.kafka")}
    framework = logging.getLogger("faststream")
    own, propagate = list(framework.handlers), framework.propagate
    yield
    framework.handlers[:] = own
    framework.propagate = propagate
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def _captured(fmt: logs.LogFormat, level: str) -> io.StringIO:
    logs.configure(level=level, fmt=fmt, role="forecasting")
    stream = io.StringIO()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


@pytest.mark.usefixtures("root_restored")
def test_configured_json_logs_keep_faststreams_per_message_lines_for_debug() -> None:
    stream = _captured("json", "INFO")

    logging.getLogger("faststream.kafka").debug("Received")
    logging.getLogger("faststream.kafka").info("callback for Task-23 is being executed...")
    logging.getLogger("workers.shell.runtime").info("planned")
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    )

    lines = [one_json_object(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["planned"]


@pytest.mark.usefixtures("root_restored")
def test_at_debug_the_clients_speak_again() -> None:
    stream = _captured("text", "DEBUG")

    logging.getLogger("faststream.kafka").debug("Received")
    logging.getLogger("aiokafka.consumer.group_coordinator").warning(
        "Heartbeat failed for group bakeplan.orchestrator because it is rebalancing"
    )

    said = stream.getvalue()
    assert "faststream.kafka: Received" in said
    assert "because it is rebalancing" in said


@pytest.mark.usefixtures("root_restored")
def test_configuring_twice_leaves_one_handler() -> None:
    logs.configure(level="INFO", fmt="json", role="orchestrator")
    logs.configure(level="INFO", fmt="text", role="orchestrator")

    (handler,) = logging.getLogger().handlers
    assert isinstance(handler.formatter, TextFormatter)


@pytest.mark.usefixtures("root_restored")
def test_ready_is_announced_even_when_the_level_hides_info() -> None:
    stream = _captured("json", "WARNING")

    logging.getLogger("bakeplan.process").info("hidden")
    logs.announce(logging.getLogger("bakeplan.process"), "bakeplan %s ready", "forecasting")

    (line,) = [one_json_object(text) for text in stream.getvalue().splitlines()]
    assert (line["message"], line["level"], line["role"]) == ("bakeplan forecasting ready", "INFO", "forecasting")
