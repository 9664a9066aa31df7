"""The retry policy of a send, and its backoff: pure, so the waits can be checked without waiting."""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries, each bounded by `attempt_timeout_seconds`.

    Before try n+1 the sender waits `backoff_seconds(n)`: exponential from `base_seconds`, capped at
    `max_seconds`, with "equal jitter" (half fixed, half random), so replicas retrying at once spread
    out but never retry in a hot loop.
    """

    attempts: int = 5
    base_seconds: float = 2.0
    max_seconds: float = 60.0
    attempt_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError(f"retry policy {self}: needs attempts ≥ 1 and 0 < base_seconds ≤ max_seconds")
        if self.attempt_timeout_seconds <= 0:
            raise ValueError(f"retry policy {self}: attempt_timeout_seconds must be > 0")

    def backoff_seconds(self, failed_attempts: int, rng: random.Random, *, retry_after: float | None = None) -> float:
        """The wait after the `failed_attempts`-th failure (1-based). A server's Retry-After is honoured
        up to `max_seconds`."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (failed_attempts - 1))
        wait = ceiling / 2 + rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_seconds))
        return wait

    def longest_total_wait_seconds(self) -> float:
        """The most the waits between all attempts can add up to (the attempts' own time aside)."""
        return sum(min(self.max_seconds, self.base_seconds * 2.0 ** (n - 1)) for n in range(1, self.attempts))
