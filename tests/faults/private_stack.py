"""A Kafka broker and a Postgres server of the fault suite's own, started with the project's scripts
(deploy/local/kafka.sh and postgres.sh) on free ports, for the tests that kill the servers.

The broker is killed with SIGKILL and started again on the same data. Postgres runs as a production
server does (`BAKEPLAN_PG_DURABLE=1`: fsync=on, full_page_writes=on, synchronous_commit=on) and is
either stopped in `immediate` mode (SIGQUIT to the postmaster: no checkpoint, crash recovery on start)
or killed outright: every one of its processes SIGKILLed at once, as the kernel's OOM killer or a lost
machine would, then started again on the same data.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bakeplan.migrate import upgrade
from infra.settings import Settings

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateStack:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.last_kill_count = 0
        self.kafka_port, self.controller_port, self.pg_port = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "BAKEPLAN_STATE_DIR": str(state_dir),
            "BAKEPLAN_KAFKA_PORT": str(self.kafka_port),
            "BAKEPLAN_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "BAKEPLAN_PG_PORT": str(self.pg_port),
            "BAKEPLAN_PG_DURABLE": "1",
        }
        self.env.pop("BAKEPLAN_PG_DIR", None)
        # where postgres.sh keeps the cluster (as root, a directory the postgres user can enter)
        self.pg_state = (
            Path(f"/var/tmp/bakeplan/postgres-{self.pg_port}") if os.geteuid() == 0 else state_dir / "postgres"
        )
        self.settings = Settings(
            database_url=f"postgresql+asyncpg://bakeplan@127.0.0.1:{self.pg_port}/bakeplan",
            kafka_bootstrap=f"127.0.0.1:{self.kafka_port}",
        )

    def _script(self, name: str, action: str) -> None:
        subprocess.run([str(SCRIPTS / name), action], env=self.env, check=True, capture_output=True, timeout=300)

    async def _script_async(self, name: str, action: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            str(SCRIPTS / name), action, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} {action} failed ({proc.returncode}):\n{out.decode(errors='replace')}")

    def start(self) -> None:
        self._script("kafka.sh", "start")
        self._script("postgres.sh", "start")
        upgrade(self.settings)

    def stop(self) -> None:
        for name in ("kafka.sh", "postgres.sh"):
            subprocess.run([str(SCRIPTS / name), "stop"], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.pg_state, ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # --- Kafka ------------------------------------------------------------------------------------

    def kafka_pid(self) -> int:
        return int((self.state_dir / "kafka" / "kafka.pid").read_text().strip())

    async def kill_kafka(self) -> int:
        """SIGKILL the broker and wait until it is gone; returns its pid."""
        pid = self.kafka_pid()
        os.kill(pid, signal.SIGKILL)
        await _wait_gone(pid)
        return pid

    async def start_kafka(self) -> int:
        await self._script_async("kafka.sh", "start")
        return self.kafka_pid()

    # --- Postgres ---------------------------------------------------------------------------------

    def postmaster_pid(self) -> int:
        return int((self.pg_state / "data" / "postmaster.pid").read_text().splitlines()[0])

    async def restart_postgres_immediate(self) -> tuple[int, int]:
        """Immediate shutdown (no checkpoint; every connection dropped) and start; returns the old
        and the new postmaster pid."""
        old = self.postmaster_pid()
        os.kill(old, signal.SIGQUIT)
        await _wait_gone(old)
        await self._script_async("postgres.sh", "start")
        return old, self.postmaster_pid()

    async def kill_postgres(self) -> tuple[int, int]:
        """SIGKILL the postmaster and every backend and helper of it at once (nothing is flushed, no
        process gets to clean up), then start the server on the same data; returns the old and the
        new postmaster pid (`last_kill_count` says how many processes were killed)."""
        old = self.postmaster_pid()
        os.kill(old, signal.SIGSTOP)  # frozen, it can fork no new backend while its children are listed
        children = _children(old)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.kill(old, signal.SIGKILL)
        self.last_kill_count = 1 + len(children)
        for pid in (old, *children):
            await _wait_gone(pid)
        await self._script_async("postgres.sh", "start")
        return old, self.postmaster_pid()


def _children(parent: int) -> list[int]:
    """The pids whose parent is `parent` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


async def _wait_gone(pid: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still alive {timeout_s} s after the signal")
        await asyncio.sleep(0.1)
