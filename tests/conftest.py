"""Where the tests find Kafka and Postgres.

Resolution order: environment variables (`BAKEPLAN_KAFKA_BOOTSTRAP`, `DATABASE_URL`; `make test` sets
them after starting the local stack) → testcontainers when a Docker engine is available → fail with a
message saying how to provide them. A test that needs a server never skips.
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlparse

import pytest

from infra.settings import Settings

HOW_TO = (
    "run `make test` (it starts a local Kafka and Postgres without Docker), or set BAKEPLAN_KAFKA_BOOTSTRAP "
    "and DATABASE_URL to servers you run, or start a Docker engine so testcontainers can"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


@pytest.fixture(scope="session")
def _containers() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def kafka_bootstrap(_containers: ExitStack) -> str:
    bootstrap = os.environ.get("BAKEPLAN_KAFKA_BOOTSTRAP")
    if bootstrap:
        host, _, port = bootstrap.split(",")[0].rpartition(":")
        if not _reachable(host, int(port)):
            pytest.fail(f"BAKEPLAN_KAFKA_BOOTSTRAP={bootstrap} is not reachable; {HOW_TO}")
        return bootstrap
    if _docker_available():
        from testcontainers.kafka import KafkaContainer

        kafka = _containers.enter_context(KafkaContainer("confluentinc/cp-kafka:7.7.1").with_kraft())
        return str(kafka.get_bootstrap_server())
    pytest.fail(f"no Kafka for the tests: {HOW_TO}")


@pytest.fixture(scope="session")
def database_url(_containers: ExitStack) -> str:
    url = os.environ.get("DATABASE_URL") or os.environ.get("BAKEPLAN_DATABASE_URL")
    if url:
        parsed = urlparse(url)
        if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432):
            pytest.fail(f"DATABASE_URL={url} is not reachable; {HOW_TO}")
        return url
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        pg = _containers.enter_context(PostgresContainer("postgres:16-alpine", driver="asyncpg"))
        return str(pg.get_connection_url())
    pytest.fail(f"no Postgres for the tests: {HOW_TO}")


@pytest.fixture(scope="session")
def db_settings(database_url: str) -> Settings:
    """Settings for tests that need Postgres only; the schema is migrated once per session."""
    from bakeplan.migrate import upgrade

    settings = Settings(database_url=database_url)
    upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def settings(db_settings: Settings, kafka_bootstrap: str) -> Settings:
    """Settings for tests that need Kafka and Postgres."""
    return db_settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap})
