"""The clock every use case is given as a parameter (they never read one themselves).

In production it is the wall clock. For a driven run (`bakeplan world`, docs/world.md) the settings
name a clock file: it holds an ISO instant, and now is that instant plus the wall time since the file
was last written, times `clock_speed`. The driver writes the file once per simulated morning, and
every process (each its own OS process) reads the same day from it; between writes the clock runs on,
so deadlines and timeouts keep their meaning.
"""

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from infra.settings import Settings

Clock = Callable[[], datetime]
_EXAMPLE = "2025-01-06T04:30:00+00:00"


def utc_now() -> datetime:
    return datetime.now(UTC)


class ClockFileError(RuntimeError):
    """The clock file cannot be read as an instant."""


def file_clock(path: Path, *, speed: float = 1.0) -> Clock:
    """The clock driven by `path` (module docstring). Re-reads the file only when it changed."""
    cached: tuple[int, datetime] | None = None

    def now() -> datetime:
        nonlocal cached
        try:
            stat = os.stat(path)
            if cached is None or cached[0] != stat.st_mtime_ns:
                cached = (stat.st_mtime_ns, read_instant(path))
        except OSError as exc:
            raise ClockFileError(
                f"clock file {path}: {exc.strerror}; unset BAKEPLAN_CLOCK_FILE for the wall clock"
            ) from exc
        written = datetime.fromtimestamp(cached[0] / 1e9, UTC)
        return cached[1] + (utc_now() - written) * speed

    return now


def read_instant(path: Path) -> datetime:
    text = path.read_text(encoding="utf-8").strip()
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ClockFileError(f"clock file {path}: {text!r} is not an ISO instant like {_EXAMPLE}") from exc
    if instant.tzinfo is None:
        raise ClockFileError(f"clock file {path}: {text!r} has no UTC offset; write it like {_EXAMPLE}")
    return instant.astimezone(UTC)


def set_clock(path: Path, instant: datetime) -> None:
    """Move every process reading `path` to `instant` (atomically: a reader never sees half a line)."""
    if instant.tzinfo is None:
        raise ValueError(f"instant {instant} has no time zone; give it in UTC")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(instant.astimezone(UTC).isoformat() + "\n", encoding="utf-8")
    os.replace(scratch, path)


def clock_of(settings: Settings) -> Clock:
    """The wall clock, or the file clock when `settings.clock_file` is set."""
    if settings.clock_file is None:
        return utc_now
    return file_clock(settings.clock_file, speed=settings.clock_speed)
