"""A secure broker of the test's own (`bakeplan stack up --secure` on free ports in a temporary state
directory), whatever broker the rest of the run uses; and small clients that report what the broker
answered instead of raising."""

import asyncio
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from contracts.topics import Topic
from infra.messaging.kafka_client import new_consumer, new_producer
from infra.settings import Settings
from tests.faults.private_stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SecureBroker:
    state_dir: Path
    env: dict[str, str]
    """The environment of `bakeplan stack up --secure` plus its client.env."""

    def settings(self, **overrides: Any) -> Settings:
        """Settings of a client of this broker (the run's own topic prefix unless overridden)."""
        client = {k.removeprefix("BAKEPLAN_").lower(): v for k, v in self.env.items() if k.startswith("BAKEPLAN_KAFKA")}
        return Settings(**{**client, "topic_prefix": os.environ.get("BAKEPLAN_TOPIC_PREFIX", ""), **overrides})

    @property
    def server_log(self) -> str:
        return (self.state_dir / "kafka-secure" / "server.log").read_text(errors="replace")

    def bakeplan(self, *args: str, prefix: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI against this broker with topic prefix `prefix` (and `env_overrides`)."""
        env = {**self.env, "BAKEPLAN_TOPIC_PREFIX": prefix, **env_overrides}
        return subprocess.run(
            [sys.executable, "-m", "bakeplan", *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )


def _client_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return dict(pairs)


@contextmanager
def secure_broker(state_dir: Path) -> Iterator[SecureBroker]:
    """Start a private secure broker; stop it and remove its state at the end."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("BAKEPLAN_KAFKA")}
    env = {
        **base,
        "BAKEPLAN_STATE_DIR": str(state_dir),
        "BAKEPLAN_KAFKA_SECURE_PORT": str(free_port()),
        "BAKEPLAN_KAFKA_SECURE_CONTROLLER_PORT": str(free_port()),
        "DATABASE_URL": base.get("DATABASE_URL") or "postgresql+asyncpg://unused@127.0.0.1:1/unused",  # no Postgres
    }
    started = subprocess.run(
        [sys.executable, "-m", "bakeplan", "stack", "up", "--secure"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
    )
    stop = [str(ROOT / "deploy" / "local" / "kafka.sh"), "stop"]
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        env |= _client_env(state_dir / "kafka-secure" / "client.env")
        yield SecureBroker(state_dir, env)
    finally:
        subprocess.run(stop, env={**env, "BAKEPLAN_KAFKA_SECURE": "1"}, capture_output=True, timeout=120, check=False)


@dataclass(frozen=True)
class Outcome:
    """What the broker answered: `ok`, or the error's class name and message."""

    ok: bool
    error: str = ""
    detail: str = ""
    value: Any = None


async def _outcome(call: Any, timeout_s: float = 30.0) -> Outcome:
    try:
        return Outcome(True, value=await asyncio.wait_for(call, timeout_s))
    except KafkaError as exc:
        return Outcome(False, type(exc).__name__, str(exc))


async def _write(settings: Settings, principal: str, topic: Topic) -> tuple[int, int]:
    producer = new_producer(settings, principal, enable_idempotence=True, acks="all", request_timeout_ms=10_000)
    try:
        await producer.start()
        sent = await producer.send_and_wait(settings.topic(topic), b"probe", key=b"t-security")
        return sent.partition, sent.offset
    finally:
        await producer.stop()


async def _read(settings: Settings, principal: str, topic: Topic, group: str | None) -> int:
    consumer = new_consumer(
        settings,
        principal,
        settings.topic(topic),
        group_id=None if group is None else settings.group(group),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        records = 0
        for _ in range(20):  # a group's first poll waits for its assignment
            batch = await consumer.getmany(timeout_ms=500)
            records += sum(len(rs) for rs in batch.values())
            if records:
                break
        return records
    finally:
        await consumer.stop()


async def write(settings: Settings, principal: str, topic: Topic) -> Outcome:
    """Publish one record to `topic` as `principal` (value: its partition and offset)."""
    return await _outcome(_write(settings, principal, topic))


async def read(settings: Settings, principal: str, topic: Topic, *, group: str | None = None) -> Outcome:
    """Read `topic` from the beginning as `principal`, in consumer group `group` (value: records read)."""
    return await _outcome(_read(settings, principal, topic, group))


def fresh_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}."


class AuthLog(logging.Handler):
    """aiokafka's log lines (it logs why a connection failed, then raises a generic error)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
