"""What the fault checks found: violations per property with the figures behind them, and the JSON
report of each test that docs/reliability.md is built from."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.faults.kafka_state import Record

PROPERTIES = ("terminal", "lost", "duplicates", "compensation", "parked")
SHOWN_PER_PROPERTY = 15


@dataclass
class Verdict:
    violations: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in PROPERTIES})
    figures: dict[str, Any] = field(default_factory=dict)
    parked: dict[tuple[str, int, int], Record] = field(default_factory=dict)
    """Dead-letter records written during the test, by source (topic, partition, offset)."""

    def add(self, prop: str, message: str) -> None:
        self.violations[prop].append(message)

    def count(self, prop: str) -> int:
        return len(self.violations[prop])

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.violations.values())

    def assert_clean(self) -> None:
        if self.total:
            lines = [f"{self.total} violation(s); figures: {self.figures}"]
            for prop, found in self.violations.items():
                lines += [f"[{prop}] {m}" for m in found[:SHOWN_PER_PROPERTY]]
                if len(found) > SHOWN_PER_PROPERTY:
                    lines.append(f"[{prop}] ... and {len(found) - SHOWN_PER_PROPERTY} more")
            raise AssertionError("\n".join(lines))


def write_report(test: str, summary: dict[str, Any]) -> None:
    """`$BAKEPLAN_FAULTS_REPORT_DIR/<test>.json` when that variable is set (docs/reliability.md is
    built from these)."""
    directory = os.environ.get("BAKEPLAN_FAULTS_REPORT_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{test}.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
