"""Which failures are a server out of reach, which server, and the one line that says so."""

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from asyncpg.exceptions import CannotConnectNowError
from sqlalchemy.exc import InterfaceError, OperationalError

from bakeplan.cli.outages import REFUSALS, Outage, find_outage
from infra.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_refusal_heard() -> None:
    """An earlier test in the process (a secure broker refusing a client) leaves its reason behind."""
    REFUSALS.last = None


SETTINGS = Settings(database_url="postgresql+asyncpg://bakeplan@db.example:6543/plans", kafka_bootstrap="k1:9092")


def wrapped(outer: Exception, inner: BaseException) -> Exception:
    """`outer` raised from `inner`, as SQLAlchemy raises its errors from the driver's."""
    outer.__cause__ = inner
    return outer


def test_sqlalchemy_errors_wrapping_the_driver_name_postgres() -> None:
    starting = wrapped(OperationalError("connect", {}, Exception("x")), CannotConnectNowError("starting up"))
    closed = wrapped(InterfaceError("connect", {}, Exception("x")), CannotConnectNowError("closed"))

    assert find_outage(starting) == Outage("Postgres", "CannotConnectNowError: starting up")
    assert find_outage(closed) is not None
    assert find_outage(CannotConnectNowError("down")) == Outage("Postgres", "CannotConnectNowError: down")


def test_kafka_bootstrap_failures_name_kafka() -> None:
    assert find_outage(KafkaConnectionError("Unable to bootstrap")) == Outage("Kafka", "no broker answered")
    assert find_outage(wrapped(RuntimeError("dlq"), KafkaTimeoutError())) == Outage("Kafka", "timed out")


def test_a_bare_os_error_outside_any_client_is_not_an_outage() -> None:
    """A file that cannot be written is not a server out of reach: it keeps its own error."""
    assert find_outage(ConnectionRefusedError(111, "refused")) is None
    assert find_outage(ValueError("bad")) is None
    assert find_outage(OperationalError("select 1", {}, Exception("syntax"))) is None


def test_the_line_names_the_server_its_address_and_the_fix() -> None:
    postgres = Outage("Postgres", "connection refused").describe(SETTINGS)
    kafka = Outage("Kafka", "no broker answered").describe(SETTINGS)

    assert postgres == (
        "cannot reach Postgres at db.example:6543, database plans (connection refused); "
        "start the local stack with `bakeplan stack up`, or set DATABASE_URL to a running Postgres"
    )
    assert kafka.startswith("cannot reach Kafka at k1:9092 (no broker answered); ")
    assert "BAKEPLAN_KAFKA_BOOTSTRAP" in kafka
    assert "\n" not in postgres + kafka
