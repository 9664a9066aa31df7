"""Planning off the event loop: each step's pure planner runs in a process of its own.

A worker process plans in a small pool of planner processes, so its event loop stays free while a
large tenant plans: Kafka heartbeats, the outbox relay, the plan-outcome consumer and the other
partitions' transactions go on, and planning overlaps their I/O.

The pool is `processes` executors (`concurrent.futures.ProcessPoolExecutor`, one process each, used
through `loop.run_in_executor`). One process per executor, and one plan at a time per executor, so
the shell always knows which plan a dead or hung process was running:

- a planner process that dies (`BrokenProcessPool`: a segfault, the OOM killer, `os._exit`) takes no
  other plan with it; its executor is replaced and the plan fails with `PlannerFailedError`;
- a plan that runs longer than `timeout_seconds` has its process killed, its executor replaced, and
  fails with `PlannerFailedError` too.

`PlannerFailedError` is neither transient nor permanent: the consumer shell counts it as one failed
delivery, retries the message with backoff, and parks it after `BAKEPLAN_MAX_DELIVERY_ATTEMPTS` with
the reason. The worker process itself lives on.

`processes=0` plans inline, on the event loop (tests and debugging; the timeout does not apply).

Test hook (the fault suite's, like `infra.crash_points`): with `crash_at` set to
`<step>.planner:<tenant>`, the planner process of that tenant's command appends `label pid` to
`crash_log` and SIGKILLs itself; with `<step>.planner_hang:<tenant>`, it sleeps past any timeout.
"""

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Message
from contracts.errors import BakeplanError
from infra.crash_points import CrashPoints
from infra.messaging.codec import encode

Plan = Callable[[Any, dict[str, Any]], Any]
"""A step's `plan(command, reply_envelope) -> StepResult` (`workers.shell.runtime`): a module-level
function, so that it pickles by name into the planner process."""


class PlannerFailedError(BakeplanError):
    """The planner process died or overran `BAKEPLAN_PLANNER_TIMEOUT_SECONDS`: one failed attempt of
    the message (retried, then parked), never a crash of the worker."""


@dataclass(frozen=True)
class PlannedRows:
    """What a planner process sends back: draft rows by table full name (tables do not pickle as the
    same objects) and the reply, encoded there. Unpickling a whole reply in the worker and encoding
    it again for the outbox had cost its event loop more than encoding it in the planner process."""

    rows: Mapping[str, Sequence[Mapping[str, Any]]]
    reply: Message
    """The reply's envelope only (a `Message`: ids, type, tenant, saga), for its outbox row."""
    reply_payload: bytes
    """The reply, encoded (`infra.messaging.codec.encode`)."""


@dataclass(frozen=True)
class PlannerFault:
    """The test hook's armed label and crash log (empty: disarmed)."""

    armed: str = ""
    log_path: str = ""


NO_FAULT = PlannerFault()


def plan_in_process(
    plan: Plan, command: Message, envelope: dict[str, Any], step: str, fault: PlannerFault
) -> PlannedRows:
    """Run `plan` in a planner process; returns its `StepResult` as `PlannedRows`."""
    if fault.armed:
        _hit_fault(fault, step=step, tenant_id=command.tenant_id)
    result = plan(command, envelope)
    reply = result.reply
    return PlannedRows(
        rows={table.fullname: rows for table, rows in result.rows.items()},
        reply=Message.model_construct(**{name: getattr(reply, name) for name in Message.model_fields}),
        reply_payload=encode(reply),
    )


def _hit_fault(fault: PlannerFault, *, step: str, tenant_id: str) -> None:
    if fault.armed == f"{step}.planner_hang:{tenant_id}":
        time.sleep(24 * 3600)
    CrashPoints(fault.armed, 1, fault.log_path).hit(f"{step}.planner:{tenant_id}")


def _start_planner(modules: tuple[str, ...], worker_pid: int) -> None:
    """A planner process's start: import `modules`, and watch the worker. A planner process is the
    fork server's child, not the worker's, and waits on its task queue, which it holds both ends of:
    without the watch it would outlive a worker that was SIGKILLed, and so would the fork server."""
    for name in modules:
        importlib.import_module(name)
    threading.Thread(target=_exit_with, args=(worker_pid,), name="planner-watch", daemon=True).start()


def _exit_with(worker_pid: int) -> None:
    while True:
        time.sleep(1.0)
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            os._exit(0)


class _Slot:
    """One single-process executor, and the pid of its process (to kill it when its plan hangs)."""

    def __init__(self, executor: ProcessPoolExecutor, pid: int) -> None:
        self.executor = executor
        self.pid = pid


class PlannerPool:
    def __init__(
        self,
        processes: int,
        *,
        timeout_seconds: float,
        preload: Sequence[str] = (),
        fault: PlannerFault = NO_FAULT,
    ) -> None:
        """`processes` planner processes (0: plan inline on the event loop), each importing the modules
        `preload` when it starts (not within a plan's time); a plan running longer than
        `timeout_seconds` is killed and fails."""
        self.processes = processes
        self._preload = tuple(preload)
        self.timeout_seconds = timeout_seconds
        self._fault = fault
        self._idle: asyncio.Queue[_Slot | None] | None = None
        self._slots: set[_Slot] = set()
        # a fork server: a clean process (no threads, no event loop) that imports the planners once and
        # forks each planner process from itself, so a replacement starts in milliseconds
        self._context = multiprocessing.get_context("forkserver")
        if not self.inline:
            self._context.set_forkserver_preload([__name__, *self._preload])

    @property
    def inline(self) -> bool:
        return self.processes == 0

    async def start(self) -> None:
        """Start the planner processes (each imports the planners once, before the first message)."""
        if self.inline or self._idle is not None:
            return
        idle: asyncio.Queue[_Slot | None] = asyncio.Queue()
        self._idle = idle
        for _ in range(self.processes):
            idle.put_nowait(None)
        slots = [await idle.get() for _ in range(self.processes)]
        try:
            slots = list(await asyncio.gather(*(self._new_slot() for _ in slots)))
        finally:
            for slot in slots:
                idle.put_nowait(slot)

    async def run(self, plan: Plan, command: Message, envelope: dict[str, Any], *, step: str) -> PlannedRows:
        """`plan(command, envelope)` in a planner process. Raises what the planner raised (a
        `PlanningError`, a bug), or `PlannerFailedError` when its process died or overran the timeout."""
        if self.inline:
            return plan_in_process(plan, command, envelope, step, NO_FAULT)
        await self.start()
        idle = self._idle
        assert idle is not None
        # None: a slot whose process is gone (or never started); whoever takes it starts a new one
        slot: _Slot | None = await idle.get()
        try:
            if slot is None:
                slot = await self._new_slot()
            future = asyncio.get_running_loop().run_in_executor(
                slot.executor, plan_in_process, plan, command, envelope, step, self._fault
            )
            planned: PlannedRows = await asyncio.wait_for(future, self.timeout_seconds)
        except BrokenProcessPool:
            self._stop(slot)
            slot = None
            raise PlannerFailedError(
                f"{step}: the planner process for {command.event_type} {command.event_id} of tenant "
                f"{command.tenant_id} (saga {command.saga_id}) died while planning; the worker lives on and "
                "the message is retried, then parked"
            ) from None
        except TimeoutError:
            self._stop(slot)
            slot = None
            # never chained as the cause: `is_transient` follows causes, and a TimeoutError reads as an outage
            raise PlannerFailedError(
                f"{step}: planning {command.event_type} {command.event_id} of tenant {command.tenant_id} "
                f"(saga {command.saga_id}) ran past BAKEPLAN_PLANNER_TIMEOUT_SECONDS={self.timeout_seconds:g}; "
                "its process was killed; the message is retried, then parked"
            ) from None
        finally:
            idle.put_nowait(slot)
        return planned

    async def _new_slot(self) -> _Slot:
        executor = ProcessPoolExecutor(
            max_workers=1, mp_context=self._context, initializer=_start_planner, initargs=(self._preload, os.getpid())
        )
        try:
            # the first task starts the process and imports; its pid is what a timeout kills
            pid = await asyncio.get_running_loop().run_in_executor(executor, os.getpid)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        slot = _Slot(executor, pid)
        self._slots.add(slot)
        return slot

    def close(self) -> None:
        """Stop the planner processes (a plan still running is killed: its message is redelivered)."""
        for slot in list(self._slots):
            self._stop(slot)
        self._idle = None

    def _stop(self, slot: _Slot | None) -> None:
        """Kill `slot`'s process (if it still runs) and retire its executor."""
        if slot is None:
            return
        self._slots.discard(slot)
        with contextlib.suppress(ProcessLookupError):
            os.kill(slot.pid, signal.SIGKILL)
        slot.executor.shutdown(wait=False, cancel_futures=True)
