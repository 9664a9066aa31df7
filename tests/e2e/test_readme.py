"""The README's quickstart stays true: its two commands exist, CI runs the test one, the demo plans."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from infra.settings import Settings

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the quickstart has a sh code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    assert quickstart_commands() == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run runs the README's test command"


def test_make_demo_prints_a_completed_plan(settings: Settings) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
    }
    result = subprocess.run(
        ["make", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, check=False
    )
    out = result.stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "production batches" in out
    assert "purchase lines" in out
    assert re.search(r"saga \S+ COMPLETED in \d+ ms", out), out[-2000:]
    # the demo's suppliers take orders by file drop: every order the plan released was sent
    assert re.search(r"sent ([1-9]\d*) of \1 as CSV files into", out), out[-2000:]
