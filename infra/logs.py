"""Logs of a bakeplan process: one JSON object per line (or readable text), with the message's context.

`configure(level=..., fmt=..., role=...)` installs one handler on stderr for the whole process. Each
line carries the time, level, logger, message and the process's role, and, while a consumer handles a
message (`message_context`), that message's `tenant_id`, `saga_id`, `event_id` and `event_type`, and,
while an OpenTelemetry span is current, its `trace_id` and `span_id` (hex, as a trace viewer shows
them: one saga's lines share its trace id across processes; infra/tracing.py). Fields passed with
`extra=` are kept too. An exception's traceback stays inside its line, as the `exc` field.

The Kafka clients are quieted unless the level is DEBUG: FastStream's per-message lines are DEBUG and
its service lines are hidden below WARNING, and aiokafka's reports of conditions it retries by itself
while topics and consumer groups start up (or rebalance) go to DEBUG.
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

import orjson

from infra import tracing

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS = ("tenant_id", "saga_id", "event_id", "event_type", "trace_id")

_context: ContextVar[Mapping[str, str]] = ContextVar("bakeplan_log_context", default=MappingProxyType({}))

# what every LogRecord has: anything else on a record came from `extra=`
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

# aiokafka logs these while it retries on its own: a new topic without a leader yet, a consumer group
# whose coordinator is starting, a rebalance when a consumer joins. Not an operator's business.
_CLIENT_RETRIES = (
    "CoordinatorNotAvailableError",
    "NotCoordinatorForGroupError",
    "GroupCoordinatorNotAvailableError",
    "LeaderNotAvailableError",
    "UnknownTopicOrPartitionError",
    "NotLeaderForPartitionError",
    "is not available during auto-create initialization",
    "because it is rebalancing",
    "Marking the coordinator dead",
    "Topic(s) not found in cluster metadata",
)


@contextlib.contextmanager
def message_context(**fields: object) -> Iterator[None]:
    """Every line logged inside the block carries `fields` (None values are left out)."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The context of the record: the current message's, overridden by the record's own `extra=`."""
    found: dict[str, Any] = dict(_context.get())
    ids = tracing.current_ids()
    if ids is not None:
        found["trace_id"], found["span_id"] = ids
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_") and value not in (None, ""):
            found[key] = value
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, role, pid, the context fields, exc."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "role": self.role,
            "pid": record.process or os.getpid(),
        }
        line |= {k: v for k, v in _fields(record).items() if k not in line}
        if record.exc_info:
            line["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time role LEVEL logger: message [tenant_id=... saga_id=...]`, for a person at a terminal."""

    def __init__(self, role: str) -> None:
        super().__init__("%(asctime)s %(role)s %(levelname)s %(name)s: %(message)s")
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        record.role = self.role
        text = super().format(record)
        known = _fields(record)
        context = " ".join(f"{k}={known[k]}" for k in CONTEXT_FIELDS if k in known)
        if not context:
            return text
        head, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{head} [{context}]{newline}{rest}"


class QuietClientRetries(logging.Filter):
    """Drops aiokafka's lines about conditions it retries by itself (see `_CLIENT_RETRIES`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno >= logging.CRITICAL:
            return True
        text = record.getMessage()
        return not any(marker in text for marker in _CLIENT_RETRIES)


def configure(*, level: str, fmt: LogFormat, role: str) -> None:
    """Send every log line of this process to stderr in `fmt`, at `level` and above.

    Replaces the handlers the root logger had, so calling it twice leaves one handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(role) if fmt == "json" else TextFormatter(role))
    debug = logging.getLevelName(level.upper()) == logging.DEBUG
    if not debug:
        handler.addFilter(QuietClientRetries())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    # a process's own configuration wins over the CLI's one-line outage reporting, which stops aiokafka's
    # propagation while a command runs (bakeplan.cli.outages): its lines belong in the process's log
    logging.getLogger("aiokafka").propagate = True
    # FastStream gives its "faststream" logger a handler of its own and stops propagation: undo that, so
    # its lines (and the broker's, on "faststream.kafka") reach this handler in this format
    framework = logging.getLogger("faststream")
    for own in list(framework.handlers):
        framework.removeHandler(own)
    framework.propagate = True
    faststream_logger().setLevel(logging.NOTSET)


def announce(logger: logging.Logger, message: str, *args: object) -> None:
    """Log `message` at INFO even when the configured level is higher: a line that supervisors, tests
    and people wait for (a process is ready), which a quiet level must not hide."""
    record = logger.makeRecord(logger.name, logging.INFO, "(announce)", 0, message, args, None)
    handlers: list[logging.Handler | None] = [*logging.getLogger().handlers] or [logging.lastResort]
    for handler in handlers:
        if handler is not None:
            handler.handle(record)


def faststream_logger() -> logging.Logger:
    """The logger to give FastStream's broker: it propagates to the root handler (FastStream's own
    default writes coloured text to stdout past every formatter)."""
    return logging.getLogger("faststream.kafka")
