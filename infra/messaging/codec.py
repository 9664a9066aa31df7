"""orjson on the wire; strict pydantic validation on the way in, after lifting older schema versions."""

from functools import cache
from typing import Annotated, Any, Union, cast

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from contracts.envelope import Message, current_version
from contracts.errors import InvalidMessageError
from contracts.messages import message_types
from contracts.upcasting import UpcastError, upcast


def encode(message: Message) -> bytes:
    return orjson.dumps(message.model_dump())


@cache
def _types() -> dict[str, type[Message]]:
    return message_types()


@cache
def _any_current() -> TypeAdapter[Message]:
    """Every message type at its current version, told apart by `event_type`."""
    # built at run time from the registry: typed as what it validates to
    union: Any = Union.__getitem__(tuple(_types().values()))
    tagged: Any = cast(Any, Annotated)[union, Field(discriminator="event_type")]
    adapter: TypeAdapter[Message] = TypeAdapter(tagged)
    return adapter


def decode(raw: bytes | None) -> Message:
    """Parse and validate one message. Raises `InvalidMessageError` saying what is wrong and how to fix it.

    A message of a known type at its current version is parsed once, by pydantic (its JSON parser
    refuses what orjson refuses: NaN, Infinity, lone surrogates, invalid UTF-8). Anything else, an
    older version or a message that does not validate, takes the way that lifts older versions and
    says what is wrong: parsed by orjson, then validated as its type. Parsing a large step reply
    twice cost about a third of decoding it."""
    if raw:
        try:
            return _any_current().validate_json(raw)
        except ValidationError:
            pass
    return decode_checked(raw)


def decode_checked(raw: bytes | None) -> Message:
    """`decode`'s way for anything but a valid current message: parsed by orjson, lifted from an
    older version, validated as its type; raises `InvalidMessageError` saying what is wrong."""
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
