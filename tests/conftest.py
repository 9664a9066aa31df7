"""Where the tests find Kafka and Postgres.

Resolution order: environment variables (`BAKEPLAN_KAFKA_BOOTSTRAP`, `DATABASE_URL`; `make test` sets
them after starting the local stack) → testcontainers when a Docker engine is available → fail with a
message saying how to provide them. A test that needs a server never skips. On a server given by
`DATABASE_URL`, the run creates a database of its own and drops it at the end (`_own_database`).

The Kafka settings of the environment apply to every client and process the tests start: with
`BAKEPLAN_KAFKA_SECURITY_PROTOCOL=SASL_SSL …` (`make test-secure`, docs/security.md) the run
provisions its topics and ACLs as the admin, its processes act as their own principals, and the
tests' own clients as the admin.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlparse, urlunparse

import asyncpg
import pytest
from aiokafka.errors import KafkaError

from bakeplan.acl_table import Principal
from bakeplan.cli.acl import provision, unprovision
from infra.messaging.kafka_client import new_admin
from infra.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cluster",
        action="store_true",
        help="run the tests marked `cluster` (a local 3-broker Kafka cluster; `make faults-cluster`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The `cluster` tests (minutes each, three broker JVMs) run only with `--cluster`: `make test`
    deselects them, `make faults-cluster` runs them (docs/resilience.md)."""
    if config.getoption("--cluster"):
        return
    kept = [item for item in items if item.get_closest_marker("cluster") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("cluster")])
        items[:] = kept


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


@contextmanager
def _own_topics(bootstrap: str) -> Iterator[str]:
    """A topic prefix for this test run only (`Settings.topic_prefix`): its topics and consumer groups
    are its own, deleted at the end, so a person's `make demo` and `serve` never see a test's messages.
    Subprocesses the tests start inherit it through `BAKEPLAN_TOPIC_PREFIX`. On a broker with ACLs
    the run's topics and ACLs are provisioned first (`bakeplan acl apply`'s work) and removed at the end."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    saved = os.environ.get("BAKEPLAN_TOPIC_PREFIX")
    os.environ["BAKEPLAN_TOPIC_PREFIX"] = prefix
    settings = Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix)
    secure = settings.kafka_security_protocol != "PLAINTEXT"
    try:
        if secure:
            provision(settings)
        yield prefix
    finally:
        if saved is None:
            os.environ.pop("BAKEPLAN_TOPIC_PREFIX", None)
        else:
            os.environ["BAKEPLAN_TOPIC_PREFIX"] = saved
        if secure:
            unprovision(settings)
        asyncio.run(_delete_topics(settings, prefix))


async def _delete_topics(settings: Settings, prefix: str) -> None:
    admin = new_admin(settings, Principal.ADMIN)
    try:
        await admin.start()
        ours = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    except KafkaError as exc:  # the broker went away with a fault test: nothing left to tidy
        print(f"could not delete the test run's topics {prefix}*: {exc!r}")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def topic_prefix(kafka_bootstrap: str, _containers: ExitStack) -> str:
    return _containers.enter_context(_own_topics(kafka_bootstrap))


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


@contextmanager
def _own_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, for this test run only, dropped at its end.

    The tests never write into the database a person's `make demo` uses (the one `server_url` names).
    Subprocesses the tests start inherit it through `DATABASE_URL`. `BAKEPLAN_KEEP_TEST_DATABASE=1`
    keeps it for a look afterwards.
    """
    name = f"bakeplan_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    url = urlunparse(urlparse(server_url)._replace(path=f"/{name}"))
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "BAKEPLAN_DATABASE_URL")}
    os.environ["DATABASE_URL"] = url
    os.environ.pop("BAKEPLAN_DATABASE_URL", None)
    try:
        yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if os.environ.get("BAKEPLAN_KEEP_TEST_DATABASE") != "1":
            asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(_containers: ExitStack) -> str:
    url = os.environ.get("BAKEPLAN_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        parsed = urlparse(url)
        if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432):
            pytest.fail(f"DATABASE_URL={url} is not reachable; {HOW_TO}")
        return _containers.enter_context(_own_database(url))
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
def settings(db_settings: Settings, kafka_bootstrap: str, topic_prefix: str) -> Settings:
    """Settings for tests that need Kafka and Postgres: the run's own database and topics."""
    return db_settings.model_copy(update={"kafka_bootstrap": kafka_bootstrap, "topic_prefix": topic_prefix})
