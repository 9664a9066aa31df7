"""`stop_children` (the demo's and the world run's children): SIGTERM first, and a child that is still
running after the grace period is killed, so none outlives the command and holds its pipe."""

import subprocess
import sys

import pytest

from bakeplan.supervisor import stop_children

pytestmark = pytest.mark.unit

_IGNORES_SIGTERM = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
)
_STOPS = "import sys, time; print('up', flush=True); time.sleep(60)"


def _child(code: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"up\n"  # its signal handling is in place
    return child


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    stubborn, polite = _child(_IGNORES_SIGTERM), _child(_STOPS)
    stop_children([stubborn, polite], grace_seconds=1.0)
    assert polite.returncode == -15  # stopped by the SIGTERM
    assert stubborn.returncode == -9  # killed once the grace period was over


def test_children_that_already_exited_are_left_alone() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    stop_children([done], grace_seconds=1.0)
    assert done.returncode == 0
