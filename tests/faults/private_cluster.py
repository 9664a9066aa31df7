"""A local 3-broker KRaft cluster of the fault suite's own (deploy/local/kafka.sh with
BAKEPLAN_KAFKA_BROKERS=3), for the tests that kill a partition leader or take the whole cluster away.

Ports: BAKEPLAN_KAFKA_CLUSTER_PORT and the five after it when set (a machine shared by several test
runs gives each its own range), else a free block of six found here."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from bakeplan.acl_table import Principal
from contracts.topics import Topic
from infra.messaging.kafka_client import new_admin
from infra.settings import Settings
from tests.faults.private_stack import SCRIPTS, _wait_gone

BROKERS = 3


def _free_block(size: int) -> int:
    """The first port of `size` consecutive free ones."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + size < 65535 and all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class PrivateCluster:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        configured = os.environ.get("BAKEPLAN_KAFKA_CLUSTER_PORT")
        self.base_port = int(configured) if configured else _free_block(2 * BROKERS)
        self.env = {
            **os.environ,
            "BAKEPLAN_STATE_DIR": str(state_dir),
            "BAKEPLAN_KAFKA_BROKERS": str(BROKERS),
            "BAKEPLAN_KAFKA_CLUSTER_PORT": str(self.base_port),
        }
        self.bootstrap = ",".join(f"127.0.0.1:{self.base_port + i}" for i in range(BROKERS))

    def settings(self, base: Settings) -> Settings:
        return base.model_copy(update={"kafka_bootstrap": self.bootstrap})

    async def _script(self, action: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            str(SCRIPTS / "kafka.sh"),
            action,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"kafka.sh {action} failed ({proc.returncode}):\n{out.decode(errors='replace')}")
        return out.decode()

    async def start(self) -> None:
        """Start every node that is not running (all of them at first) and wait until all are ready."""
        await self._script("start")

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS / "kafka.sh"), "stop"], env=self.env, capture_output=True, timeout=300)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def pid(self, node: int) -> int:
        return int((self.state_dir / "kafka-cluster" / f"node-{node}" / "kafka.pid").read_text().strip())

    async def kill(self, node: int) -> int:
        """SIGKILL broker `node` (its controller with it: combined mode) and wait until it is gone."""
        pid = self.pid(node)
        os.kill(pid, signal.SIGKILL)
        await _wait_gone(pid)
        return pid

    async def kill_all(self) -> None:
        """SIGKILL every broker (and so every controller) at once."""
        for node in range(1, BROKERS + 1):
            os.kill(self.pid(node), signal.SIGKILL)
        for node in range(1, BROKERS + 1):
            await _wait_gone(self.pid(node))


async def partition_leaders(settings: Settings, topics: Iterable[Topic]) -> dict[tuple[str, int], dict[str, Any]]:
    """(topic, partition) -> {leader, replicas, isr} as the cluster's metadata says now."""
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topic(t) for t in topics])
    finally:
        await admin.close()
    return {
        (t["topic"], p["partition"]): {"leader": p["leader"], "replicas": list(p["replicas"]), "isr": list(p["isr"])}
        for t in described
        for p in t["partitions"]
    }


def busiest_leader(leaders: dict[tuple[str, int], dict[str, Any]]) -> int:
    """The broker that leads the most of these partitions."""
    return int(Counter(p["leader"] for p in leaders.values()).most_common(1)[0][0])


async def min_insync_replicas(settings: Settings, topics: Iterable[Topic]) -> dict[str, str]:
    """The `min.insync.replicas` each topic is configured with."""
    admin = new_admin(settings, Principal.ADMIN)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, settings.topic(t), {"min.insync.replicas": None}) for t in topics]
        )
    finally:
        await admin.close()
    found: dict[str, str] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            for entry in resource["config_entries"]:
                if entry["config_names"] == "min.insync.replicas":
                    found[resource["resource_name"]] = entry["config_value"]
    return found
