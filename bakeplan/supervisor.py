"""`serve --role all`'s parent: starts one child process per role (and replica), restarts one that
exits as `bakeplan.supervision` decides, and stops them all on SIGTERM or SIGINT, or after giving up.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType

from bakeplan.supervision import GiveUp, RestartPolicy, after_crash, exit_code

log = logging.getLogger("bakeplan.supervisor")
POLL_SECONDS = 0.1  # how soon an exit is noticed; a child's start takes seconds anyway
STOP_GRACE_SECONDS = 30.0

Spawn = Callable[[str, Mapping[str, str] | None], subprocess.Popen[bytes]]


def stop_children(
    children: list[subprocess.Popen[bytes]],
    *,
    signum: int = signal.SIGTERM,
    grace_seconds: float = STOP_GRACE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Send `signum` to every child still running, then wait for each up to `grace_seconds` in all;
    one still running then is killed (logged), so none outlives its parent and holds its terminal
    or pipe."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signum)
    deadline = clock() + grace_seconds
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - clock()))
        except subprocess.TimeoutExpired:
            log.error("pid %d did not stop within %.0f s of the signal; killing it", child.pid, grace_seconds)
            child.kill()
            child.wait()


def spawn_role(role: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`bakeplan serve --role ROLE` as a child process sharing this one's stdout and stderr (and its
    environment, updated with `env`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bakeplan", "serve", "--role", role], env={**os.environ, **env} if env else None
    )


@dataclass
class Child:
    role: str
    name: str
    """`role-replica`, e.g. forecasting-2: what the log lines say."""
    env: dict[str, str] = field(default_factory=dict)
    """What the child's environment adds to the parent's (its own metrics port)."""
    proc: subprocess.Popen[bytes] | None = None
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None


class Supervisor:
    """Runs `roles` (repeat a role for replicas) until a signal, or until one child keeps crashing.
    With `metrics_port` > 0 the i-th child (0-based, in `roles` order) serves its metrics on
    `metrics_port + i`, also after a restart, so no two children bind one port."""

    def __init__(
        self,
        roles: list[str],
        policy: RestartPolicy,
        *,
        spawn: Spawn = spawn_role,
        clock: Callable[[], float] = time.monotonic,
        metrics_port: int = 0,
    ) -> None:
        replica: dict[str, int] = {}
        self.children = []
        for index, role in enumerate(roles):
            replica[role] = replica.get(role, 0) + 1
            port = str(metrics_port + index) if metrics_port else "0"
            self.children.append(Child(role, f"{role}-{replica[role]}", {"BAKEPLAN_METRICS_PORT": port}))
        self.policy = policy
        self._spawn = spawn
        self._clock = clock
        self._stop_signal: int | None = None

    def _start(self, child: Child) -> None:
        child.proc = self._spawn(child.role, child.env)
        child.restart_at = None
        log.info("started %s (pid %d, metrics port %s)", child.name, child.proc.pid, child.env["BAKEPLAN_METRICS_PORT"])

    def _on_exit(self, child: Child, proc: subprocess.Popen[bytes]) -> GiveUp | None:
        now = self._clock()
        decision = after_crash(self.policy, child.crashes, now)
        child.crashes.append(now)
        child.proc = None
        how = f"was killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exited with {proc.returncode}"
        if isinstance(decision, GiveUp):
            log.error(
                "%s (pid %d) %s: crash %d within %.0f s (more than BAKEPLAN_SUPERVISE_MAX_RESTARTS=%d); giving up",
                child.name, proc.pid, how, decision.crashes_in_window, self.policy.window_seconds,
                self.policy.max_restarts,
            )  # fmt: skip
            return decision
        child.restart_at = now + decision.delay_seconds
        log.warning(
            "%s (pid %d) %s; restarting in %.1f s (crash %d of at most %d within %.0f s)",
            child.name, proc.pid, how, decision.delay_seconds, decision.crashes_in_window,
            self.policy.max_restarts, self.policy.window_seconds,
        )  # fmt: skip
        return None

    def _request_stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_signal = signum

    def _stop_all(self, signum: int) -> list[int]:
        running = [c.proc for c in self.children if c.proc is not None]
        stop_children(running, signum=signum, clock=self._clock)
        return [exit_code(proc.returncode) for proc in running]

    def run(self) -> int:
        """Supervise until stopped; the exit code: the highest of the children's after a signal (0 after
        a clean stop), 1 after giving up on a child."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                self._start(child)
            while self._stop_signal is None:
                for child in self.children:
                    proc = child.proc
                    exited = proc is not None and proc.poll() is not None and self._stop_signal is None
                    if exited and proc is not None and self._on_exit(child, proc) is not None:
                        self._stop_all(signal.SIGTERM)
                        return 1
                    if child.restart_at is not None and self._clock() >= child.restart_at:
                        self._start(child)
                time.sleep(POLL_SECONDS)
            log.info("stopping every child (signal %d)", self._stop_signal)
            return max(self._stop_all(self._stop_signal), default=0)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
