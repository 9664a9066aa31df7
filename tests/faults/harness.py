"""Named bakeplan processes for the fault suite: several replicas per role, each started as a user
would (`python -m bakeplan serve --role R`), and the faults done to them.

A replica is known by its name (`production-1`); its process may be killed, restarted, paused and
resumed any number of times. Every fault the harness does is recorded, so a test can assert that
its fault actually happened; deaths the harness did not cause (a crash point firing) are noticed by
`Supervisor` and restarted as a process manager would.
"""

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.settings import Settings
from tests.e2e.support import trigger_window_env

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "forecasting", "production", "procurement")
WORKER_ROLES = ROLES[1:]

# Inherited variables that would silently change what a replica does (a crash point armed in the
# shell that runs pytest, another stack's URL): replicas get only what the harness passes them.
_SCRUBBED_PREFIXES = ("BAKEPLAN_",)
_SCRUBBED = {"DATABASE_URL", "PYTHONDONTWRITEBYTECODE"}
PYCACHE = Path(tempfile.gettempdir()) / "bakeplan-faults-pycache"


@dataclass(frozen=True)
class Fault:
    """One thing done to a replica: `kind` is the signal's name (SIGKILL, SIGSTOP, SIGCONT, SIGTERM)
    or `exit` for a death the harness did not cause (then `detail` is the exit code)."""

    replica: str
    pid: int
    kind: str
    at: float  # time.monotonic()
    detail: str = ""


@dataclass
class Replica:
    name: str
    role: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_paths: list[Path] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    """Every process this replica ran, in start order."""
    paused: bool = False
    expected_exit: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def starts(self) -> int:
        return len(self.log_paths)


class Fleet:
    """The bakeplan processes of one test. Not thread-safe; one event loop drives it.

    `env` applies to every replica, `add(..., **env)` to one; both are BAKEPLAN_* variables (the
    prefix is added when missing). Database and Kafka always come from `settings`.
    """

    def __init__(self, settings: Settings, log_dir: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._log_dir = log_dir
        self._base_env = {
            **{k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)},
            # Restarting processes is what these tests do. With PYTHONDONTWRITEBYTECODE set (as in CI)
            # every start compiled the dependencies from source again: ~3 s of CPU per restart on a
            # 2-core machine. The bytecode cache lives outside the checkout and the virtualenv.
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            "BAKEPLAN_DATABASE_URL": settings.database_url,
            "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
            "BAKEPLAN_RELAY_POLL_SECONDS": "0.2",
            "BAKEPLAN_LOG_LEVEL": "INFO",
            "BAKEPLAN_METRICS_PORT": "0",  # many replicas of one role: no shared default port
            **trigger_window_env(),
            **_prefixed(env or {}),
        }
        self.replicas: dict[str, Replica] = {}
        self.faults: list[Fault] = []

    # --- membership --------------------------------------------------------------------------

    def add(self, name: str, role: str, **env: str) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} for replica {name!r}; use one of {ROLES}")
        if name in self.replicas:
            raise ValueError(f"replica {name!r} exists already")
        self.replicas[name] = Replica(name, role, _prefixed(env))

    def add_standard(self, *, workers_per_role: int = 2) -> list[str]:
        """One orchestrator and `workers_per_role` replicas of each worker; returns their names."""
        self.add("orchestrator-1", "orchestrator")
        for role in WORKER_ROLES:
            for n in range(1, workers_per_role + 1):
                self.add(f"{role}-{n}", role)
        return list(self.replicas)

    def names(self, role: str | None = None) -> list[str]:
        return [r.name for r in self.replicas.values() if role is None or r.role == role]

    def set_env(self, name: str, **env: str) -> None:
        """Change the replica's own variables for its next start; an empty value removes one."""
        replica = self.replicas[name]
        for key, value in _prefixed(env).items():
            if value:
                replica.env[key] = value
            else:
                replica.env.pop(key, None)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, *names: str, timeout_s: float = 120.0) -> None:
        """Start the named replicas (all when none are named) at once; return when each has logged
        `bakeplan <role> ready`. Raises `RuntimeError` if one exits during start-up."""
        chosen = [self.replicas[n] for n in (names or tuple(self.replicas))]
        for replica in chosen:
            if replica.proc is not None and replica.proc.poll() is None:
                raise RuntimeError(f"replica {replica.name} is running already (pid {replica.proc.pid})")
            self._spawn(replica)
        await asyncio.gather(*(self._wait_ready(r, timeout_s) for r in chosen))

    def _spawn(self, replica: Replica) -> None:
        path = self._log_dir / f"{replica.name}.{replica.starts + 1}.log"
        replica.log_paths.append(path)
        with path.open("wb") as out:
            replica.proc = subprocess.Popen(
                [sys.executable, "-m", "bakeplan", "serve", "--role", replica.role],
                env={**self._base_env, **replica.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        replica.pids.append(replica.proc.pid)
        replica.paused = False
        replica.expected_exit = False

    async def _wait_ready(self, replica: Replica, timeout_s: float) -> None:
        assert replica.proc is not None
        marker = f"bakeplan {replica.role} ready".encode()
        path = replica.log_paths[-1]
        deadline = time.monotonic() + timeout_s
        while marker not in path.read_bytes():
            if replica.proc.poll() is not None:
                raise RuntimeError(
                    f"{replica.name} exited with {replica.proc.returncode} during start-up:\n{_tail(path)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{replica.name} not ready after {timeout_s} s:\n{_tail(path)}")
            await asyncio.sleep(0.1)

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, *, timeout_s: float = 30.0) -> int:
        """Send `sig` (SIGKILL or SIGTERM) and wait until the process is gone; returns its pid."""
        replica = self.replicas[name]
        async with replica.lock:
            return await self._kill(replica, sig, timeout_s)

    async def _kill(self, replica: Replica, sig: signal.Signals, timeout_s: float) -> int:
        proc = replica.proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"replica {replica.name} is not running")
        replica.expected_exit = True
        proc.send_signal(sig)
        if replica.paused and sig != signal.SIGKILL:
            proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        self.faults.append(Fault(replica.name, proc.pid, sig.name, time.monotonic()))
        if not await _exited(proc, timeout_s):
            raise TimeoutError(f"{replica.name} (pid {proc.pid}) still alive {timeout_s} s after {sig.name}")
        replica.paused = False
        return proc.pid

    async def restart(self, name: str, *, sig: signal.Signals = signal.SIGKILL, timeout_s: float = 120.0) -> int:
        """Kill the replica if it runs, start it again and wait until it is ready; returns the new pid."""
        replica = self.replicas[name]
        async with replica.lock:
            if replica.proc is not None and replica.proc.poll() is None:
                await self._kill(replica, sig, 30.0)
            self._spawn(replica)
            await self._wait_ready(replica, timeout_s)
            assert replica.proc is not None
            return replica.proc.pid

    def pause(self, name: str) -> int:
        """SIGSTOP: the process keeps its sockets but neither polls nor heartbeats."""
        return self._signal(name, signal.SIGSTOP, paused=True)

    def resume(self, name: str) -> int:
        return self._signal(name, signal.SIGCONT, paused=False)

    def _signal(self, name: str, sig: signal.Signals, *, paused: bool) -> int:
        proc = self.replicas[name].proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError(f"replica {name} is not running")
        proc.send_signal(sig)
        self.replicas[name].paused = paused
        self.faults.append(Fault(name, proc.pid, sig.name, time.monotonic()))
        return proc.pid

    def pid(self, name: str) -> int:
        proc = self.replicas[name].proc
        if proc is None:
            raise RuntimeError(f"replica {name} was never started")
        return proc.pid

    def running(self, name: str) -> bool:
        proc = self.replicas[name].proc
        return proc is not None and proc.poll() is None

    def died_unexpectedly(self) -> list[str]:
        """Replicas whose process ended without the harness killing it (and not yet restarted)."""
        return [
            r.name
            for r in self.replicas.values()
            if r.proc is not None and r.proc.poll() is not None and not r.expected_exit and not r.lock.locked()
        ]

    def record_exit(self, name: str) -> None:
        replica = self.replicas[name]
        assert replica.proc is not None
        assert replica.proc.returncode is not None
        replica.expected_exit = True
        self.faults.append(Fault(name, replica.proc.pid, "exit", time.monotonic(), detail=str(replica.proc.returncode)))

    async def stop_all(self, *, timeout_s: float = 20.0) -> None:
        """SIGTERM every running replica (resuming paused ones first), SIGKILL what does not stop."""
        running = [r for r in self.replicas.values() if r.proc is not None and r.proc.poll() is None]
        for replica in running:
            assert replica.proc is not None
            replica.expected_exit = True
            if replica.paused:
                replica.proc.send_signal(signal.SIGCONT)
            replica.proc.send_signal(signal.SIGTERM)
        stopped = await asyncio.gather(*(_exited(r.proc, timeout_s) for r in running if r.proc is not None))
        for replica, done in zip(running, stopped, strict=True):
            if not done and replica.proc is not None:
                log.warning("%s did not stop on SIGTERM within %s s; killing it", replica.name, timeout_s)
                replica.proc.kill()
                await _exited(replica.proc, 10.0)

    # --- what happened -------------------------------------------------------------------------

    def last_fault_at(self) -> float:
        """time.monotonic() of the latest fault (0.0 before any)."""
        return max((f.at for f in self.faults), default=0.0)

    def faults_of(self, kind: str, *, role: str | None = None) -> list[Fault]:
        return [f for f in self.faults if f.kind == kind and (role is None or self.replicas[f.replica].role == role)]

    def log_text(self, name: str) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.replicas[name].log_paths if p.exists())


class Supervisor:
    """Restarts replicas that died on their own, like systemd or Kubernetes would.

    `env_for_restart(name, deaths)` may change a replica's variables before it starts again (e.g.
    disarm a crash point after a few deaths); `deaths` counts that replica's unexpected exits so far.
    """

    def __init__(self, fleet: Fleet, *, env_for_restart: Callable[[str, int], Mapping[str, str]] | None = None) -> None:
        self._fleet = fleet
        self._env_for_restart = env_for_restart
        self.deaths: dict[str, int] = {}
        self.restart_errors: list[str] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for name in self._fleet.died_unexpectedly():
                self._fleet.record_exit(name)
                self.deaths[name] = self.deaths.get(name, 0) + 1
                if self._env_for_restart is not None:
                    self._fleet.set_env(name, **self._env_for_restart(name, self.deaths[name]))
                try:
                    await self._fleet.restart(name)
                except (RuntimeError, TimeoutError) as exc:
                    # a replica armed to crash may die again before it is ready: try again next round
                    self.restart_errors.append(f"{name}: {exc}")
                    self._fleet.replicas[name].expected_exit = False
            await asyncio.sleep(0.2)

    async def __aenter__(self) -> "Supervisor":
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _exited(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait (off the event loop) until `proc` exits; False if it is still running after `timeout_s`."""
    try:
        await asyncio.to_thread(proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return True


def _prefixed(env: Mapping[str, str]) -> dict[str, str]:
    return {(k if k.startswith("BAKEPLAN_") else f"BAKEPLAN_{k.upper()}"): v for k, v in env.items()}


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"
