"""orjson on the wire; strict pydantic validation on the way in, after lifting older schema versions."""

from functools import cache

import orjson
from pydantic import ValidationError

from contracts.envelope import Message, current_version
from contracts.errors import InvalidMessageError
from contracts.messages import message_types
from contracts.upcasting import UpcastError, upcast


def encode(message: Message) -> bytes:
    return orjson.dumps(message.model_dump())


@cache
def _types() -> dict[str, type[Message]]:
    return message_types()


def decode(raw: bytes | None) -> Message:
    """Parse and validate one message. Raises `InvalidMessageError` saying what is wrong and how to fix it."""
    if not raw:
        raise InvalidMessageError("empty message body: publish one JSON object with the bakeplan envelope")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessageError(f"body is not valid JSON ({exc}): publish UTF-8 JSON") from exc
    if not isinstance(obj, dict):
        raise InvalidMessageError(f"body is a JSON {type(obj).__name__}, expected an object with the bakeplan envelope")
    event_type = obj.get("event_type")
    cls = _types().get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        known = ", ".join(sorted(_types()))
        raise InvalidMessageError(f"unknown event_type {event_type!r}: use one of {known}")
    current = current_version(cls)
    tenant = obj.get("tenant_id")
    if obj.get("schema_version", 1) != current:
        # an older version: lift it as JSON, then validate exactly as a current message
        try:
            raw = orjson.dumps(upcast(obj, current=current))
        except UpcastError as exc:
            raise InvalidMessageError(str(exc)) from exc
    # orjson's parse checked the JSON (it is stricter than pydantic's: no NaN, no Infinity); its
    # objects go before the model builds its own, so a large message is not held twice
    del obj
    try:
        return cls.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise InvalidMessageError(f"{event_type} for tenant {tenant!r} failed validation: {problems}") from exc
