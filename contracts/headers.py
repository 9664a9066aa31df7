"""Kafka record headers bakeplan writes and reads. The body alone is the message: a consumer needs
no header to decode it (so a producer outside bakeplan may leave `event_type` out), except a record
whose payload went by claim check (`CLAIM_CHECK`)."""

EVENT_TYPE = "event_type"
"""The body's `event_type`, for tools that route or filter without parsing JSON."""

REPLAYED_FROM = "dlq.replayed_from"
"""On a record that `bakeplan dlq replay` re-published: the dead-letter record it came from, `P:O`."""

CLAIM_CHECK = "claim_check.sha256"
"""The one header a consumer needs: on a record whose payload went by claim check, the SHA-256 (hex)
of the payload stored in Postgres (`messaging.claim_checks`); the body is then only a reference.
The consumer shell resolves it before decoding (infra/messaging/claim_check.py)."""

TRACEPARENT = "traceparent"
"""W3C Trace Context (`00-<trace id>-<parent span id>-<flags>`): the span that sent the record. A
consumer continues that trace (docs/tracing.md); without it, handling the record starts a new one."""

TRACESTATE = "tracestate"
"""W3C Trace Context vendor state, passed on with `traceparent` where a producer sent one."""

DLQ_PREFIX = "dlq."

DLQ_REASON = "dlq.reason"
DLQ_EXCEPTION = "dlq.exception"
DLQ_ATTEMPTS = "dlq.attempts"
DLQ_CONSUMER = "dlq.consumer"
DLQ_SOURCE_TOPIC = "dlq.source.topic"
DLQ_SOURCE_PARTITION = "dlq.source.partition"
DLQ_SOURCE_OFFSET = "dlq.source.offset"
DLQ_PARKED_AT = "dlq.parked_at"

PARKING: dict[str, str] = {
    DLQ_REASON: "why the record was parked and what would fix it (at most 2000 characters)",
    DLQ_EXCEPTION: "the class name of the error, e.g. InvalidMessageError",
    DLQ_ATTEMPTS: "how many times the consumer tried the record, as a decimal number",
    DLQ_CONSUMER: "the consumer that parked it (its group is `bakeplan.<consumer>`)",
    DLQ_SOURCE_TOPIC: "the topic the record was read from; `bakeplan dlq replay` publishes it back there",
    DLQ_SOURCE_PARTITION: "the partition it was read from, as a decimal number",
    DLQ_SOURCE_OFFSET: "its offset there, as a decimal number",
    DLQ_PARKED_AT: "when it was parked, ISO 8601 with the UTC offset",
}
"""The headers a consumer adds when it parks a record on the dead-letter topic, after the record's own."""
