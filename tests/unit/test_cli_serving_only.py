"""A process started as `bakeplan serve ...` builds the `serve` command alone (bakeplan/cli/__init__.py):
the other commands' modules, which every serving process would otherwise hold, are never imported."""

import json
import subprocess
import sys

import pytest

from bakeplan.cli import serving_only

pytestmark = pytest.mark.unit

PROBE = """
import json, sys
sys.argv = ["bakeplan", *sys.argv[1:]]
import typer.main
from bakeplan.cli import app
group = typer.main.get_command(app)
print(json.dumps({"commands": sorted(group.commands), "modules": sorted(sys.modules)}))
"""


def probe(*argv: str) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    loaded: dict[str, list[str]] = json.loads(out.stdout)
    return loaded


def test_a_serving_process_builds_only_serve_and_imports_no_other_command() -> None:
    loaded = probe("serve", "--role", "orchestrator")
    assert loaded["commands"] == ["serve"]
    for heavy in ("bakeplan.cli.console", "bakeplan.cli.channels", "bakeplan.cli.offline", "bakeplan.cli.stack"):
        assert heavy not in loaded["modules"], heavy
    assert "workers.procurement.channels.pdf" not in loaded["modules"]


def test_any_other_command_line_builds_every_command() -> None:
    loaded = probe("runs")
    assert {"serve", "runs", "trigger", "demo", "console", "orders", "stack"} <= set(loaded["commands"])


@pytest.mark.parametrize(
    ("argv", "only"),
    [
        (["bakeplan", "serve"], True),
        (["/usr/bin/bakeplan", "serve", "--role", "all"], True),
        (["bakeplan", "--debug", "serve"], False),
        (["bakeplan", "runs"], False),
        (["bakeplan"], False),
    ],
)
def test_serving_only_is_the_serve_command_first(argv: list[str], only: bool) -> None:
    assert serving_only(argv) is only
