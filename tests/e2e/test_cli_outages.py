"""Every command family, with the server it needs unreachable: one line naming the server, its address
and the fix, exit 1, no traceback. The shared servers keep running: the commands point at a closed port."""

import os
import subprocess
import sys
import uuid

import pytest

from infra.settings import Settings

pytestmark = pytest.mark.e2e

CLOSED_DATABASE_URL = "postgresql+asyncpg://bakeplan@127.0.0.1:9/bakeplan"
CLOSED_KAFKA = "127.0.0.1:9"
SAGA = "0b3f1d7c-3c2a-4e5f-8a9b-112233445566"

POSTGRES_FAMILIES = [
    ["trigger", "--tenant", "demo-001"],
    ["runs"],
    ["show", SAGA],
    ["plan-of", SAGA],
    ["dlq", "list"],  # reads Kafka first; with Kafka also closed it names Kafka (see below)
    ["schedule", "show", "--tenant", "demo-001"],
    ["schedule", "set", "--tenant", "demo-001", "--time-zone", "Europe/Madrid"],
    ["schedule", "pause", "--tenant", "demo-001"],
    ["audit", "verify"],
    ["replay", SAGA],
    ["replay", "--tenant", "demo-001", "--from", "2026-11-01", "--to", "2026-11-28"],
    ["explain", SAGA, "--line", "x"],
    ["db", "upgrade"],
    ["seed", "--prefix", "never"],
]


def bakeplan(database_url: str, kafka: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "BAKEPLAN_KAFKA_BOOTSTRAP": kafka, **extra_env}
    env.pop("BAKEPLAN_DATABASE_URL", None)
    env.pop("BAKEPLAN_LOG_LEVEL", None)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "bakeplan", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_outage(result: subprocess.CompletedProcess[str], server: str, address: str, fix: str) -> None:
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "Traceback" not in said, said
    lines = said.strip().splitlines()
    assert len(lines) == 1, said
    assert lines[0].startswith(f"error: cannot reach {server} at {address}"), lines[0]
    assert "bakeplan stack up" in lines[0], lines[0]
    assert fix in lines[0], lines[0]


@pytest.mark.parametrize("args", POSTGRES_FAMILIES, ids=lambda args: " ".join(args[:2]))
def test_with_postgres_unreachable_a_command_says_so_in_one_line(args: list[str]) -> None:
    result = bakeplan(CLOSED_DATABASE_URL, CLOSED_KAFKA, *args)
    if args[:2] == ["dlq", "list"]:
        assert_one_line_outage(result, "Kafka", CLOSED_KAFKA, "BAKEPLAN_KAFKA_BOOTSTRAP")
    else:
        assert_one_line_outage(result, "Postgres", "127.0.0.1:9, database bakeplan", "DATABASE_URL")


def test_with_kafka_unreachable_trigger_and_dlq_say_so_in_one_line(db_settings: Settings) -> None:
    from bakeplan.cli.outages import address_of

    assert address_of("Postgres", db_settings)  # the real Postgres is reachable; only Kafka is not
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    seeded = bakeplan(db_settings.database_url, CLOSED_KAFKA, "seed", "--prefix", prefix)
    assert seeded.returncode == 0, seeded.stderr
    for args in (["trigger", "--tenant", f"{prefix}-001"], ["dlq", "list"], ["dlq", "replay", "--all"]):
        result = bakeplan(db_settings.database_url, CLOSED_KAFKA, *args)
        assert_one_line_outage(result, "Kafka", CLOSED_KAFKA, "BAKEPLAN_KAFKA_BOOTSTRAP")


@pytest.mark.parametrize("how", ["--debug", "BAKEPLAN_LOG_LEVEL=DEBUG"])
def test_debug_keeps_the_traceback(how: str) -> None:
    if how == "--debug":
        result = bakeplan(CLOSED_DATABASE_URL, CLOSED_KAFKA, "--debug", "runs")
    else:
        result = bakeplan(CLOSED_DATABASE_URL, CLOSED_KAFKA, "runs", BAKEPLAN_LOG_LEVEL="DEBUG")
    assert result.returncode == 1
    assert "Traceback" in result.stderr or "ConnectionRefusedError" in result.stderr, result.stderr[-2000:]
