"""Hypothesis strategies for what can arrive on a Kafka topic: raw bytes, valid messages mutated (wrong
types, missing fields, huge arrays, odd unicode, NaN, negative quantities, far dates), garbled headers
(missing, duplicated, non-UTF-8, a bogus claim check) and odd keys (none, bytes, another tenant's).

The valid messages start from the golden files (tests/golden/, one per event type and version), so
every message type the contract knows is fuzzed, and a new one is fuzzed as soon as its golden exists.
"""

import copy
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from contracts import headers as h
from contracts.routing import TOPIC_MESSAGES
from contracts.topics import Topic

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
Json = Any
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class WireRecord:
    """What one Kafka record carries."""

    value: bytes | None
    key: bytes | None
    headers: Headers

    def __repr__(self) -> str:  # Hypothesis prints it for a failing example: keep it short and exact
        value = self.value if self.value is None or len(self.value) < 600 else self.value[:600] + b"..."
        return f"WireRecord(value={value!r}, key={self.key!r}, headers={self.headers!r})"


@cache
def goldens() -> dict[str, dict[str, Json]]:
    """Every golden message as a JSON object, by file name (`planning.requested.v2`)."""
    found = {}
    for path in sorted(GOLDEN.glob("*.json")):
        obj = orjson.loads(path.read_bytes())
        assert isinstance(obj, dict)
        found[path.stem] = obj
    return found


def goldens_for(topic: Topic) -> list[dict[str, Json]]:
    """The golden messages of the types sent on `topic` (every version)."""
    kinds = {cls.model_fields["event_type"].default for cls in TOPIC_MESSAGES[topic]}
    return [obj for obj in goldens().values() if obj["event_type"] in kinds]


# --- values -------------------------------------------------------------------------------------------

# no lone surrogates: they cannot be UTF-8 encoded, so no producer can send them as JSON text
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)
odd_texts = st.sampled_from(["", " ", "\x00", "a\x00b", "é", "💥" * 3, "\u202e", "../../etc/passwd", "x" * 5000])
far_dates = st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01", "2026-02-29", "2026-13-01", "20261128"])
far_instants = st.sampled_from(
    ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-23:59", "2026-11-28T04:30:00"]
)
numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, -0.0, 1e308, -1e308, 2**63, -(2**63) - 1, 1e-320, 10**40]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, odd_texts, far_dates, far_instants)
json_values: st.SearchStrategy[Json] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def _paths(obj: Json, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in `obj` a mutation can touch (the root excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        items: Sequence[tuple[Any, Json]] = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    else:
        return found
    for key, value in items:
        found.append((*at, key))
        found.extend(_paths(value, (*at, key)))
    return found


def _parent(obj: Json, path: tuple[Any, ...]) -> Json:
    for step in path[:-1]:
        obj = obj[step]
    return obj


@st.composite
def _mutation_of(draw: st.DrawFn, value: Json) -> Json:
    """A value in place of `value`: of a wrong type, or the same type pushed to its edges."""
    options: list[st.SearchStrategy[Json]] = [json_values]
    if isinstance(value, bool):
        options.append(st.sampled_from([0, 1, "true", None]))
    elif isinstance(value, int | float):
        options.append(st.sampled_from([-value, -1, 0, math.inf, 1e300, 2**70, str(value), True]))
    elif isinstance(value, str):
        options += [odd_texts, far_dates, far_instants, st.just(value + "\x00"), st.just(value.upper())]
    elif isinstance(value, list):
        # a huge array: past any `max_length` the contract sets
        options.append(st.sampled_from([[], value * 2, (value or [None]) * 3000]))
    elif isinstance(value, dict):
        options.append(st.just({}))
    return draw(st.one_of(options))


@st.composite
def mutated(draw: st.DrawFn, golden: dict[str, Json]) -> dict[str, Json]:
    """`golden` with a few fields removed, retyped or pushed to their edges (maybe none: the valid message)."""
    obj = copy.deepcopy(golden)
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(obj)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(obj, path)
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_mutation_of(parent[path[-1]]))
    if draw(st.integers(0, 9)) == 0:
        obj["schema_version"] = draw(st.sampled_from([0, 2, 3, 99, -1, "1", 1.0, None, True, 2**64]))
    if draw(st.integers(0, 9)) == 0:
        obj["event_type"] = draw(st.sampled_from([*sorted({o["event_type"] for o in goldens().values()}), "", "x"]))
    return obj


def _encoded(obj: Json) -> bytes:
    """`obj` as a lax producer writes it: integers of any size, NaN and Infinity as bare tokens."""
    return json.dumps(obj, ensure_ascii=False, allow_nan=True).encode()


@st.composite
def bodies(draw: st.DrawFn, topic: Topic) -> tuple[bytes, str | None]:
    """A record body for `topic` and the tenant it names (None when it names none)."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=300)), None
    if kind == 1:  # JSON, but not an object of the envelope
        return _encoded(draw(json_values)), None
    # mostly messages of this topic; now and then one of another topic's
    choices = goldens_for(topic) if kind > 2 else list(goldens().values())
    obj = draw(mutated(draw(st.sampled_from(choices))))
    body = _encoded(obj)
    if draw(st.integers(0, 14)) == 0:  # tokens only a lax encoder writes, and trailing garbage
        body = draw(st.sampled_from([body + b" }", body[: len(body) // 2], b"\xef\xbb\xbf" + body]))
    tenant = obj.get("tenant_id")
    return body, tenant if isinstance(tenant, str) else None


def keys(tenant: str | None) -> st.SearchStrategy[bytes | None]:
    """Mostly the right key (so the message gets to its handler), else none, another tenant's, or bytes."""
    right = st.just(tenant.encode()) if tenant else st.none()
    return st.one_of(
        right,
        right,
        right,
        st.none(),
        st.just(b"another-bakery"),
        st.binary(max_size=20),
        st.just((tenant or "x").encode() + b"\xff\xfe"),
    )


header_names = st.one_of(
    st.sampled_from([h.EVENT_TYPE, h.CLAIM_CHECK, h.REPLAYED_FROM, h.DLQ_REASON, "schema_version", ""]), texts
)
header_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [b"", b"\xff\xfe\xfd", b"0" * 64, b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
    ),
    texts.map(str.encode),
)
headers: st.SearchStrategy[Headers] = st.one_of(
    st.just([]),
    st.lists(st.tuples(header_names, header_values), max_size=4),
)


@st.composite
def records(draw: st.DrawFn, topic: Topic) -> WireRecord:
    """One record as it could arrive on `topic`."""
    body, tenant = draw(bodies(topic))
    value: bytes | None = None if draw(st.integers(0, 49)) == 0 else body
    # mostly without headers: with most headers drawn, the message itself still decides (only a claim
    # check changes the path), and a record with none goes deepest
    record_headers = draw(headers) if draw(st.integers(0, 3)) == 0 else []
    return WireRecord(value=value, key=draw(keys(tenant)), headers=record_headers)
