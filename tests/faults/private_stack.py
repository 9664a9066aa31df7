"""A Kafka broker and a Postgres server of the fault suite's own, started with the project's scripts
(deploy/local/kafka.sh and postgres.sh) on free ports, for the tests that kill the servers.

The broker is killed with SIGKILL and started again on the same data; Postgres is stopped in
`immediate` mode (SIGQUIT to the postmaster: no checkpoint, crash recovery on start, the same as
`pg_ctl restart -m immediate`) and started again.
"""

import asyncio
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
        self.kafka_port, self.controller_port, self.pg_port = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "BAKEPLAN_STATE_DIR": str(state_dir),
            "BAKEPLAN_KAFKA_PORT": str(self.kafka_port),
            "BAKEPLAN_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "BAKEPLAN_PG_PORT": str(self.pg_port),
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
