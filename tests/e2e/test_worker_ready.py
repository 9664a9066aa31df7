"""A worker is ready only once its planner processes run: a replica that joins its consumer groups
plans its first command at once, instead of keeping that tenant waiting while the planner processes
start (seconds on a loaded machine; the bench's first sagas on a new fleet showed it)."""

import os
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.e2e.processes import Processes

pytestmark = pytest.mark.e2e

PLANNERS = 2


def _children(pid: int) -> list[int]:
    """The live child processes of `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # the command name may hold spaces and parentheses: the fields after its closing one are fixed
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def test_a_worker_is_ready_only_when_its_planner_processes_run(settings: Settings, tmp_path: Path) -> None:
    processes = Processes(settings, tmp_path, BAKEPLAN_PLANNER_PROCESSES=str(PLANNERS))
    processes.start("forecasting")
    try:
        worker = processes.procs["forecasting-1"].pid
        # the worker → its fork server → one process per planner
        planners = [p for child in _children(worker) for p in _children(child)]
        assert len(planners) >= PLANNERS, (
            f"ready with {len(planners)} of {PLANNERS} planner processes running: its first command would wait for them"
        )
    finally:
        processes.stop_all()
