"""orjson on the wire; strict pydantic validation on the way in, after lifting older schema versions."""

from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.envelope import Message, current_version
from contracts.errors import InvalidMessageError
from contracts.messages import message_types
from contracts.upcasting import UpcastError, upcast


def encode(message: Message) -> bytes:
    return orjson.dumps(message.model_dump())


@cache
def _types() -> dict[str, type[Message]]:
    return message_types()


class _Head(BaseModel):
    """What `decode` needs before it knows the message type. Read straight from the JSON, the rest of
    the body skipped: no Python objects are made for a large message's lines only to be dropped."""

    model_config = ConfigDict(extra="ignore")

    event_type: Any = None
    schema_version: Any = 1
    tenant_id: Any = None


def _head(raw: bytes) -> _Head:
    """The head of a JSON object; when the body is no JSON object, raises `InvalidMessageError`."""
    try:
        return _Head.model_validate_json(raw)
    except ValidationError:
        pass  # not JSON, or not an object: parse it to say which
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessageError(f"body is not valid JSON ({exc}): publish UTF-8 JSON") from exc
    if not isinstance(obj, dict):
        raise InvalidMessageError(f"body is a JSON {type(obj).__name__}, expected an object with the bakeplan envelope")
    return _Head.model_validate(obj)


def decode(raw: bytes | None) -> Message:
    """Parse and validate one message. Raises `InvalidMessageError` saying what is wrong and how to fix it.

    The body is parsed into objects once, by the message's own model; the head (type, version,
    tenant) is read before without building the rest."""
    if not raw:
        raise InvalidMessageError("empty message body: publish one JSON object with the bakeplan envelope")
    head = _head(raw)
    event_type = head.event_type
    cls = _types().get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        known = ", ".join(sorted(_types()))
        raise InvalidMessageError(f"unknown event_type {event_type!r}: use one of {known}")
    current = current_version(cls)
    if head.schema_version != current:
        # an older version: lift it as JSON, then validate exactly as a current message
        try:
            raw = orjson.dumps(upcast(orjson.loads(raw), current=current))
        except UpcastError as exc:
            raise InvalidMessageError(str(exc)) from exc
    try:
        return cls.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidMessageError(f"{event_type} for tenant {head.tenant_id!r} failed validation: {problems}") from exc
