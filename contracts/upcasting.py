"""Schema evolution: upcasters lift an old message version to the next one, as plain JSON objects.

A compatible change (a new field with a default) keeps the version. A breaking change (a new required
field, a rename, a changed meaning) bumps the message's `schema_version` default and registers an
upcaster from the previous version here, so consumers, `bakeplan dlq replay` and audit replays read
old recorded events after an upgrade. Golden JSON files of every version live in tests/golden/.
"""

from collections.abc import Callable, Mapping
from typing import Any

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]


class UpcastError(ValueError):
    """The object's version cannot be brought to the version this release reads."""


def _planning_requested_1_to_2(obj: JsonObject) -> JsonObject:
    # v2 made the trigger's source explicit (the audit asks "who started this plan?"). v1 only had
    # the free-text `requested_by`; bakeplan's scheduler wrote "scheduler", everything else was a person.
    source = "schedule" if obj.get("requested_by") == "scheduler" else "operator"
    return obj | {"source": source}


# (event_type, version) → the upcaster that returns the object at version + 1
UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    ("planning.requested", 1): _planning_requested_1_to_2,
}


def upcast(obj: JsonObject, *, current: int) -> JsonObject:
    """`obj` lifted step by step to version `current` (unchanged when it is already there).

    Raises `UpcastError` for a version that is not a positive integer, is newer than `current`, or has
    no upcaster registered on the way.
    """
    event_type = obj.get("event_type")
    version = obj.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UpcastError(f"{event_type}: schema_version {version!r} is not a positive integer")
    if version > current:
        raise UpcastError(
            f"{event_type}: unsupported schema_version {version}; this release reads version {current} "
            "(and older ones): upgrade bakeplan before publishing newer messages"
        )
    while version < current:
        step = UPCASTERS.get((str(event_type), version))
        if step is None:
            raise UpcastError(
                f"{event_type}: unsupported schema_version {version}: no upcaster to version {version + 1}"
            )
        obj = step(obj) | {"schema_version": version + 1}
        version += 1
    return obj
