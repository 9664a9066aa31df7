"""Message versions this release no longer writes but still reads, kept as frozen models.

A consumer lifts an old version to the current one as JSON (`contracts.upcasting`), so the code never
needs these classes to decode. They are here so that the contract document (docs/contract.md) can give
a producer still on an old version the exact schema of what it sends, and so that a test can check each
one against its golden file in tests/golden/.

A breaking change moves the old class here unchanged, renamed with its version (`PlanningRequestedV1`),
before the new version takes its place in `contracts.messages`; an old version's model never changes
again.
"""

from datetime import date
from typing import Literal

from pydantic import Field

from contracts.envelope import Message


class PlanningRequestedV1(Message):
    """Version 1 of `planning.requested`: no `source`; it is lifted with `source` "schedule" when
    `requested_by` was "scheduler", else "operator"."""

    event_type: Literal["planning.requested"] = "planning.requested"
    business_date: date
    requested_by: str = Field(default="operator", max_length=200)
    horizon_days: int = Field(default=14, ge=1, le=60)


PAST_VERSIONS: tuple[type[Message], ...] = (PlanningRequestedV1,)
