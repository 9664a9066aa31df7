"""The wall clock, given to the use cases as a parameter (they never read it themselves)."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
