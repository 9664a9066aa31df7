"""Orchestrator and workers as OS processes, started as a user would (`bakeplan serve --role R`).

Each worker role runs `worker_replicas` processes (the orchestrator `orchestrator_replicas`) in one
consumer group, as a scaled-out deployment would; `start`/`kill` act on every replica of a role."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from infra.settings import Settings
from tests.e2e.support import trigger_window_env

ROLES = ("orchestrator", "forecasting", "production", "procurement")
OPTIONAL_ROLES = ("channels",)
"""Started only by the tests that use them (`start("channels")`), not by `start_all`."""


class Processes:
    def __init__(
        self,
        settings: Settings,
        log_dir: Path,
        *,
        worker_replicas: int = 1,
        orchestrator_replicas: int = 1,
        env: dict[str, str] | None = None,
        launcher: Callable[[str], list[str]] | None = None,
        **overrides: str,
    ) -> None:
        """`launcher`: the command that runs Python for a replica, given its name (default: this
        interpreter), e.g. under a memory profiler."""
        self.replicas = {
            role: orchestrator_replicas if role == "orchestrator" else worker_replicas
            for role in (*ROLES, *OPTIONAL_ROLES)
        }
        self._env = {
            **os.environ,
            "BAKEPLAN_DATABASE_URL": settings.database_url,
            "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
            "BAKEPLAN_RELAY_POLL_SECONDS": "0.2",
            "BAKEPLAN_LOG_LEVEL": "INFO",
            **trigger_window_env(),
            **(env or {}),
            **overrides,
        }
        # metrics off unless BAKEPLAN_METRICS_PORT is set (then a port of its own per process from it):
        # replicas of a role would otherwise share one (tests/e2e/test_prometheus.py serves them)
        self._metrics_base = int(self._env.get("BAKEPLAN_METRICS_PORT") or 0)
        self._metrics_next = 0
        self._log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: dict[str, int] = {}
        self._launcher = launcher or (lambda name: [sys.executable])

    def start(self, role: str, *, timeout_s: float = 180.0) -> None:
        """Start every replica of `role` and wait until each is ready."""
        n = self.starts.get(role, 0) + 1
        self.starts[role] = n
        started = []
        for replica in range(1, self.replicas[role] + 1):
            name = f"{role}-{replica}"
            log_path = self._log_dir / f"{name}-{n}.log"
            log = log_path.open("wb")
            port = self._metrics_base + self._metrics_next if self._metrics_base else 0
            self._metrics_next += 1
            proc = subprocess.Popen(
                [*self._launcher(f"{name}-{n}"), "-m", "bakeplan", "serve", "--role", role],
                env={**self._env, "BAKEPLAN_METRICS_PORT": str(port)},
                stdout=log,
                stderr=log,
            )
            self.procs[name] = proc
            started.append((name, proc, log_path))
        deadline = time.monotonic() + timeout_s
        for name, proc, log_path in started:
            while b"ready" not in log_path.read_bytes():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout_s} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)

    def start_all(self) -> None:
        for role in ROLES:
            self.start(role)

    def kill(self, role: str, sig: int = signal.SIGKILL) -> None:
        """Signal every replica of `role` and wait for it to exit."""
        for name in [n for n in self.procs if n.rsplit("-", 1)[0] == role]:
            proc = self.procs.pop(name)
            proc.send_signal(sig)
            proc.wait(timeout=30)

    def log_text(self, role: str) -> str:
        return "\n".join(p.read_text() for p in sorted(self._log_dir.glob(f"{role}-*.log")))

    def stop_all(self) -> None:
        for role in (*ROLES, *OPTIONAL_ROLES):
            self.kill(role, signal.SIGTERM)
