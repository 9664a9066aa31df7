"""Schema evolution: golden JSON of every message version decodes after an upgrade, and the wire
format of the current versions cannot change without a new golden file (or a new version)."""

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.envelope import Message, current_version
from contracts.errors import InvalidMessageError
from contracts.messages import ALL_MESSAGES, PlanningRequested
from contracts.upcasting import UPCASTERS, UpcastError, upcast
from infra.messaging.codec import decode, encode
from tests.golden.write import HERE, path_of

pytestmark = pytest.mark.unit

GOLDEN = sorted(HERE.glob("*.v*.json"))


def _version_of(path: Path) -> tuple[str, int]:
    match = re.fullmatch(r"(.+)\.v(\d+)\.json", path.name)
    assert match, f"golden file {path.name} must be named <event_type>.v<N>.json"
    return match[1], int(match[2])


def _load(path: Path) -> dict[str, Any]:
    obj = orjson.loads(path.read_bytes())
    assert isinstance(obj, dict)
    return obj


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_every_version_of_every_message_has_a_golden_file(cls: type[Message]) -> None:
    event_type = cls.model_fields["event_type"].default
    missing = [v for v in range(1, current_version(cls) + 1) if not path_of(event_type, v).exists()]

    assert not missing, f"{event_type}: no golden file for version(s) {missing}; run `python -m tests.golden.write`"


def test_every_golden_file_names_a_known_type_and_its_own_version() -> None:
    known = {cls.model_fields["event_type"].default: cls for cls in ALL_MESSAGES}

    assert len(GOLDEN) >= len(ALL_MESSAGES)
    for path in GOLDEN:
        event_type, version = _version_of(path)
        assert event_type in known, f"{path.name}: unknown event type"
        assert 1 <= version <= current_version(known[event_type])
        body = _load(path)
        assert (body["event_type"], body["schema_version"]) == (event_type, version), path.name


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_every_golden_version_decodes_to_the_same_event_as_the_current_one(path: Path) -> None:
    event_type, _ = _version_of(path)
    decoded = decode(path.read_bytes())
    cls = type(decoded)
    current = decode(path_of(event_type, current_version(cls)).read_bytes())

    assert decoded.event_type == event_type
    assert decoded.schema_version == current_version(cls)
    # every file of a type describes one event, so lifting an old one must give the current one exactly
    assert decoded == current


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_the_current_wire_format_is_the_golden_one(cls: type[Message]) -> None:
    path = path_of(cls.model_fields["event_type"].default, current_version(cls))
    golden = _load(path)

    written = orjson.loads(encode(decode(path.read_bytes())))

    assert written == golden, (
        f"the wire format of {cls.__name__} changed. A compatible change (a new field with a default): "
        f"delete {path.name} and run `python -m tests.golden.write`. A breaking change: bump schema_version "
        "and register an upcaster in contracts/upcasting.py"
    )


def test_upcasters_form_an_unbroken_chain_for_every_type() -> None:
    for cls in ALL_MESSAGES:
        event_type = cls.model_fields["event_type"].default
        for version in range(1, current_version(cls)):
            assert (event_type, version) in UPCASTERS, f"{event_type}: no upcaster from version {version}"
    for event_type, version in UPCASTERS:
        cls = next(c for c in ALL_MESSAGES if c.model_fields["event_type"].default == event_type)
        assert version < current_version(cls), f"upcaster {event_type} v{version} is never used"


@pytest.mark.parametrize(
    ("requested_by", "source"),
    [("scheduler", "schedule"), ("cli", "operator"), ("operator", "operator"), ("Scheduler", "operator")],
)
def test_a_v1_trigger_gets_its_source_from_who_requested_it(requested_by: str, source: str) -> None:
    v1 = _load(path_of("planning.requested", 1)) | {"requested_by": requested_by}

    message = decode(orjson.dumps(v1))

    assert isinstance(message, PlanningRequested)
    assert (message.source, message.requested_by, message.schema_version) == (source, requested_by, 2)


def test_a_v1_trigger_without_requested_by_was_an_operators() -> None:
    v1 = _load(path_of("planning.requested", 1))
    del v1["requested_by"]

    message = decode(orjson.dumps(v1))

    assert isinstance(message, PlanningRequested)
    assert (message.source, message.requested_by) == ("operator", "operator")


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (3, ["unsupported schema_version 3", "reads version 2", "upgrade bakeplan"]),
        (0, ["schema_version 0 is not a positive integer"]),
        ("1", ["schema_version '1' is not a positive integer"]),
        (True, ["schema_version True is not a positive integer"]),
    ],
)
def test_a_version_that_cannot_be_lifted_is_rejected_with_the_reason(version: object, words: list[str]) -> None:
    body = _load(path_of("planning.requested", 1)) | {"schema_version": version}

    with pytest.raises(InvalidMessageError) as caught:
        decode(orjson.dumps(body))

    for text in words:
        assert text in str(caught.value)


def test_upcast_names_the_missing_step() -> None:
    with pytest.raises(
        UpcastError, match=r"planning.plan_ready: unsupported schema_version 1: no upcaster to version 2"
    ):
        upcast({"event_type": "planning.plan_ready", "schema_version": 1}, current=2)


def test_a_current_model_cannot_claim_an_older_version() -> None:
    fields = decode(path_of("planning.requested", 2).read_bytes()).model_dump() | {"schema_version": 1}

    with pytest.raises(ValueError, match=r"decode older versions with infra\.messaging\.codec\.decode"):
        PlanningRequested(**fields)
