"""Shared by the poison fault tests (test_poison_outbox.py, test_poison_scans.py)."""

THRESHOLD = 3
"""Failures in a row before a scan quarantines an item."""


def report(name: str, **figures: object) -> None:
    """One line of the table in docs/resilience.md, printed (`pytest -s` shows it)."""
    print(f"\nRESILIENCE {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
