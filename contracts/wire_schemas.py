"""The JSON Schema of every version of every message, as it goes on the wire.

Pydantic's `model_json_schema` of the message's model, tightened where the codec is stricter than the
model alone (`infra.messaging.codec.decode`): `event_type` is required, since it selects the model, and
`schema_version` is that version's number (required from version 2 on: a body without it is read as
version 1). The contract document (docs/contract.md) is made from these, so they import nothing but
the contracts.
"""

import inspect
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Message, current_version
from contracts.messages import ALL_MESSAGES
from contracts.past_versions import PAST_VERSIONS

JsonSchema = dict[str, Any]

DEFAULT_REF_TEMPLATE = "#/$defs/{model}"


@dataclass(frozen=True)
class MessageVersion:
    """One version of one message type and the model that describes it."""

    model: type[Message]

    @property
    def event_type(self) -> str:
        event_type = self.model.model_fields["event_type"].default
        assert isinstance(event_type, str), f"{self.model.__name__}.event_type needs a str default"
        return event_type

    @property
    def version(self) -> int:
        return current_version(self.model)

    @property
    def key(self) -> str:
        """`<event_type>.v<N>`, as golden files and schema files are named."""
        return f"{self.event_type}.v{self.version}"

    @property
    def summary(self) -> str:
        """The first line of the model's docstring, or "" when it has none."""
        doc = inspect.getdoc(self.model) if self.model.__doc__ else None
        return doc.split("\n\n", 1)[0].replace("\n", " ") if doc else ""


def message_versions() -> tuple[MessageVersion, ...]:
    """Every version of every message in `ALL_MESSAGES`: its current model and its past ones
    (`contracts.past_versions`), in the order of `ALL_MESSAGES`, oldest version first.

    Raises `ValueError` naming the fix when a version between 1 and the current one has no model, or a
    past model belongs to no message.
    """
    past: dict[str, list[MessageVersion]] = {}
    for model in PAST_VERSIONS:
        old = MessageVersion(model)
        past.setdefault(old.event_type, []).append(old)
    found: list[MessageVersion] = []
    for model in ALL_MESSAGES:
        current = MessageVersion(model)
        older = sorted(past.pop(current.event_type, []), key=lambda v: v.version)
        expected = list(range(1, current.version))
        if [v.version for v in older] != expected:
            raise ValueError(
                f"{current.event_type}: past versions {[v.version for v in older]} have models, expected {expected}: "
                f"move the model of each older version into contracts/past_versions.py"
            )
        found += [*older, current]
    if past:
        raise ValueError(f"contracts/past_versions.py: {sorted(past)} are not in contracts.messages.ALL_MESSAGES")
    return tuple(found)


def wire_schema(message: MessageVersion, *, ref_template: str = DEFAULT_REF_TEMPLATE) -> JsonSchema:
    """The JSON Schema of `message`'s body; nested models are in `$defs`, referenced by `ref_template`."""
    schema = message.model.model_json_schema(mode="validation", ref_template=ref_template)
    properties = schema["properties"]
    properties["event_type"] = {
        "type": "string",
        "const": message.event_type,
        "description": "which message this is; selects the schema",
    }
    properties["schema_version"] = {
        "type": "integer",
        "const": message.version,
        "default": message.version,
        "description": "the version of the schema the body follows"
        + (" (may be left out: a body without it is read as version 1)" if message.version == 1 else ""),
    }
    required = [name for name in schema.get("required", []) if name not in ("event_type", "schema_version")]
    head = ["event_id", "event_type"] + (["schema_version"] if message.version > 1 else [])
    schema["required"] = head + [name for name in required if name not in head]
    return schema
