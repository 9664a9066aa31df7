"""The driven clock: every process reads the day the driver wrote, and it runs on from there."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bakeplan.roles.clock import ClockFileError, clock_of, file_clock, set_clock, utc_now
from infra.settings import Settings

pytestmark = pytest.mark.unit
MORNING = datetime(2025, 1, 6, 4, 30, tzinfo=UTC)


def _written_seconds_ago(path: Path, seconds: float) -> None:
    then = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (then, then))


def test_without_a_clock_file_the_processes_use_the_wall_clock() -> None:
    assert clock_of(Settings()) is utc_now


def test_the_clock_reads_the_instant_written_and_runs_on_at_its_speed(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    set_clock(path, MORNING)
    _written_seconds_ago(path, 10)
    assert file_clock(path)() - MORNING == pytest.approx(timedelta(seconds=10), abs=timedelta(seconds=1))
    assert file_clock(path, speed=60)() - MORNING == pytest.approx(timedelta(minutes=10), abs=timedelta(seconds=60))


def test_a_new_instant_moves_a_running_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = clock_of(Settings(clock_file=path))
    set_clock(path, MORNING)
    assert clock().date() == MORNING.date()
    set_clock(path, MORNING + timedelta(days=1))
    _written_seconds_ago(path, 0)  # a file system whose mtime resolution hides the rewrite still moves
    assert clock().date() == MORNING.date() + timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "says"), [("yesterday", "not an ISO instant"), ("2025-01-06T04:30:00", "no UTC offset")]
)
def test_a_bad_clock_file_names_itself_and_the_fix(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "clock"
    path.write_text(text)
    with pytest.raises(ClockFileError, match=says):
        file_clock(path)()
    with pytest.raises(ClockFileError, match="unset BAKEPLAN_CLOCK_FILE"):
        file_clock(tmp_path / "missing")()
