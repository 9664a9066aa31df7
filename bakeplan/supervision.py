"""When `serve --role all` restarts a child that exited, after how long, and when it gives up.

Pure: the clock is a parameter (monotonic seconds) and the history is the child's earlier crash
times, so every decision is a function of its inputs. `bakeplan/supervisor.py` applies it to processes.
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff `backoff_seconds`, doubling per crash in the window up to `backoff_max_seconds`;
    more than `max_restarts` crashes within `window_seconds` and the child is given up on."""

    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    max_restarts: int = 5
    window_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.backoff_seconds < 0 or self.backoff_max_seconds < self.backoff_seconds:
            raise ValueError(
                f"backoff {self.backoff_seconds} s up to {self.backoff_max_seconds} s: need 0 <= backoff <= backoff max"
            )
        if self.max_restarts < 0 or self.window_seconds <= 0:
            raise ValueError(f"max restarts {self.max_restarts} within {self.window_seconds} s: need >= 0 and > 0 s")


@dataclass(frozen=True)
class Restart:
    """Start the child again `delay_seconds` from now; this is crash `crashes_in_window` of the window."""

    delay_seconds: float
    crashes_in_window: int


@dataclass(frozen=True)
class GiveUp:
    """The child crashed `crashes_in_window` times within the window: stop restarting it."""

    crashes_in_window: int


def after_crash(policy: RestartPolicy, earlier_crashes: Sequence[float], now: float) -> Restart | GiveUp:
    """What to do about a child that exited unexpectedly at `now`, given its `earlier_crashes` (the
    same clock). Crashes older than the window are forgiven, so a child that ran well for a while
    starts again at the first backoff."""
    crashes = 1 + sum(1 for at in earlier_crashes if now - at < policy.window_seconds)
    if crashes > policy.max_restarts:
        return GiveUp(crashes)
    delay = min(policy.backoff_seconds * 2 ** (crashes - 1), policy.backoff_max_seconds)
    return Restart(delay, crashes)


def exit_code(returncode: int) -> int:
    """A child's return code as a shell reports it: killed by signal N (negative N) is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode
