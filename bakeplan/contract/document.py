"""The AsyncAPI 3.0 document of bakeplan's Kafka contract, built from `contracts/` and the roles.

Channels are the topics (`contracts.topics.Topic`), each with the messages `contracts.routing` puts on
it; messages are every version of every message (`contracts.wire_schemas`), each with its JSON Schema,
its Kafka key (`tenant_id`) and headers (`contracts.headers`); operations are who sends and who
receives (`bakeplan.contract.parties`). Pure: the caller writes it (`bakeplan.contract.files`).
"""

from collections.abc import Sequence
from typing import Any

from bakeplan.contract.parties import Operation, channel_id
from contracts import headers
from contracts.routing import TOPIC_MESSAGES
from contracts.topics import Topic
from contracts.wire_schemas import JsonSchema, MessageVersion, message_versions, wire_schema
from infra.messaging.admin import topic_configs

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
PARKED = "parked"
SCHEMAS_REF = "#/components/schemas/{model}"

Document = dict[str, Any]

_DESCRIPTION = """\
Event-driven daily planning for bakery chains: a saga over Apache Kafka. Every record is one JSON \
object (the bakeplan envelope plus the message's fields), keyed by `tenant_id` so one tenant's \
messages stay ordered on one partition. A consumer handles an `event_id` once, so re-sending a \
message is harmless. A record that cannot be processed is parked on the dead-letter topic with the \
reason in `dlq.*` headers. Older schema versions are read and upcast; a newer one than the release \
reads is parked with "upgrade bakeplan".

Generated from contracts/ by `bakeplan contract write`; do not edit by hand (docs/contract.md). \
The JSON Schema of each message version is also in docs/schemas/<event_type>.v<N>.json."""


def _key_schema() -> JsonSchema:
    return {
        "type": "string",
        "description": "the message's `tenant_id`, UTF-8; a record whose key differs from it is parked",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z0-9_.-]+$",
    }


def _headers_schema(event_type: str) -> JsonSchema:
    return {
        "type": "object",
        "description": "Kafka record headers, UTF-8 values. Optional: consumers read only the body.",
        "properties": {
            headers.EVENT_TYPE: {
                "type": "string",
                "const": event_type,
                "description": "the body's `event_type`; bakeplan's producers set it",
            },
            headers.TRACEPARENT: {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C Trace Context of the span that sent the record; a consumer continues that "
                "trace (docs/tracing.md)",
            },
            headers.TRACESTATE: {"type": "string", "description": "W3C Trace Context vendor state, passed on"},
            headers.REPLAYED_FROM: {
                "type": "string",
                "pattern": "^[0-9]+:[0-9]+$",
                "description": "set by `bakeplan dlq replay`: the dead-letter record (PARTITION:OFFSET) re-published",
            },
        },
    }


def _message(message: MessageVersion, current: bool) -> JsonSchema:
    status = (
        "The version this release writes."
        if current
        else "A past version: still read, and upcast to the current one on the way in."
    )
    described = [message.summary] if message.summary else []
    return {
        "name": message.event_type,
        "title": f"{message.event_type} v{message.version}",
        "summary": message.summary or message.event_type,
        "description": " ".join(
            [*described, status, f"Schema: docs/schemas/{message.key}.json; example: tests/golden/{message.key}.json."]
        ),
        "contentType": "application/json",
        "headers": _headers_schema(message.event_type),
        "payload": {"$ref": f"#/components/schemas/{message.key}"},
        "correlationId": {
            "description": "the saga's id (null on messages that start work)",
            "location": "$message.payload#/correlation_id",
        },
        "bindings": {"kafka": {"key": _key_schema(), "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _parked_message() -> JsonSchema:
    parking = {name: {"type": "string", "description": meaning} for name, meaning in headers.PARKING.items()}
    return {
        "name": PARKED,
        "title": "A parked record",
        "summary": "A record a consumer could not process, byte for byte, with why and where from.",
        "description": "Key, value and headers are the original record's (the value is often not a valid "
        "message: that is why it was parked); the consumer adds the `dlq.*` headers after the original ones. "
        "`bakeplan dlq list` shows them and `bakeplan dlq replay` publishes the record back to "
        "`dlq.source.topic` after a fix.",
        "headers": {
            "type": "object",
            "required": sorted(headers.PARKING),
            "properties": {headers.EVENT_TYPE: {"type": "string"}, **parking},
        },
        "payload": {"description": "the original record's value, unchanged (any bytes)"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original record's key (the tenant id)"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _topic_configuration(topic: Topic) -> dict[str, int]:
    return {name: int(value) for name, value in topic_configs(topic).items()}


def _channel(topic: Topic, versions: Sequence[MessageVersion], doc: str) -> JsonSchema:
    keys = [v.key for v in versions] if topic is not Topic.DEAD_LETTER else [PARKED]
    return {
        "address": str(topic),
        "title": str(topic),
        "description": doc,
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in keys},
        "bindings": {
            "kafka": {
                "topic": str(topic),
                "topicConfiguration": _topic_configuration(topic),
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel_doc(topic: Topic, versions: Sequence[MessageVersion]) -> str:
    if topic is Topic.DEAD_LETTER:
        return "Records parked by any consumer, kept forever (retention.ms -1) until replayed or dropped."
    names = sorted({v.event_type for v in versions})
    return f"Carries {', '.join(names)}. Keyed by tenant_id."


def _operation(op: Operation, by_topic: dict[Topic, list[MessageVersion]]) -> JsonSchema:
    channel = channel_id(op.topic)
    if op.topic is Topic.DEAD_LETTER:
        keys = [PARKED]
    else:
        kinds = op.messages if op.messages is not None else TOPIC_MESSAGES[op.topic]
        chosen = [v for v in by_topic[op.topic] if v.model in kinds or (not op.current_only and _same_type(v, kinds))]
        keys = [v.key for v in chosen]
    found: JsonSchema = {
        "action": op.action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{op.party} {op.action}s on {op.topic}",
        "summary": op.summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in keys],
        "tags": [{"name": op.party}],
    }
    if op.group is not None:
        found["bindings"] = {
            "kafka": {"groupId": {"type": "string", "enum": [op.group]}, "bindingVersion": KAFKA_BINDING_VERSION}
        }
    return found


def _same_type(version: MessageVersion, kinds: Sequence[type[Any]]) -> bool:
    return any(version.event_type == MessageVersion(kind).event_type for kind in kinds)


def _hoist(schemas: dict[str, JsonSchema], name: str, schema: JsonSchema) -> None:
    """Put `schema` and its `$defs` into `schemas`; one name must always mean one schema."""
    for def_name, definition in schema.pop("$defs", {}).items():
        _hoist(schemas, def_name, definition)
    if name in schemas and schemas[name] != schema:
        raise ValueError(
            f"two different schemas are both named {name!r}: rename one of the models in contracts/ "
            "(the contract document keeps every nested model under its class name)"
        )
    schemas[name] = schema


def asyncapi_document(operations: Sequence[Operation], *, version: str) -> Document:
    """The whole document; `version` is bakeplan's release (info.version).

    Raises `ValueError` naming the fix when a topic has no route in `contracts.routing`, a message is on
    no topic, or two operations would share an id.
    """
    versions = message_versions()
    missing = [t.name for t in Topic if t not in TOPIC_MESSAGES]
    if missing:
        raise ValueError(f"topics {missing} carry no messages: add them to TOPIC_MESSAGES in contracts/routing.py")
    routed = {cls for kinds in TOPIC_MESSAGES.values() for cls in kinds}
    unrouted = sorted({v.event_type for v in versions if v.model not in routed and v.version == _latest(v, versions)})
    if unrouted:
        raise ValueError(f"{unrouted} are on no topic: add each to TOPIC_MESSAGES in contracts/routing.py")
    by_topic = {topic: [v for v in versions if _same_type(v, kinds)] for topic, kinds in TOPIC_MESSAGES.items()}
    schemas: dict[str, JsonSchema] = {}
    for v in versions:
        _hoist(schemas, v.key, wire_schema(v, ref_template=SCHEMAS_REF))
    messages = {v.key: _message(v, v.version == _latest(v, versions)) for v in versions}
    messages[PARKED] = _parked_message()
    ops: dict[str, JsonSchema] = {}
    for op in operations:
        if op.id in ops:
            raise ValueError(f"two operations are both {op.id}: a party sends or receives a topic once")
        ops[op.id] = _operation(op, by_topic)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:bakeplan:kafka",
        "info": {
            "title": "bakeplan",
            "version": version,
            "description": _DESCRIPTION,
            "tags": [{"name": party} for party in dict.fromkeys(op.party for op in operations)],
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "`bakeplan stack up`; elsewhere any Kafka cluster, set BAKEPLAN_KAFKA_BOOTSTRAP",
            }
        },
        "defaultContentType": "application/json",
        "channels": {channel_id(t): _channel(t, by_topic[t], _channel_doc(t, by_topic[t])) for t in Topic},
        "operations": ops,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def _latest(version: MessageVersion, versions: Sequence[MessageVersion]) -> int:
    return max(v.version for v in versions if v.event_type == version.event_type)


def schema_files(*, schema_uri: str = "https://json-schema.org/draft/2020-12/schema") -> dict[str, JsonSchema]:
    """`<event_type>.v<N>.json` → that version's standalone JSON Schema (nested models in `$defs`)."""
    return {
        f"{v.key}.json": {
            "$schema": schema_uri,
            "$comment": "generated from contracts/ by `bakeplan contract write`; do not edit (docs/contract.md)",
            **wire_schema(v),
        }
        for v in message_versions()
    }
