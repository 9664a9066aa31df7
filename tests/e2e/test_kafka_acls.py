"""The secure broker refuses what the ACL table does not allow, and allows what it does.

A private broker started as a user would (`bakeplan stack up --secure`), provisioned with
`bakeplan acl apply` for a topic prefix of this module's own; each client acts as one principal
with the password `stack up` made for it (docs/security.md)."""

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from pydantic import SecretStr

from bakeplan.acl_table import Principal, acl_rules
from bakeplan.console import health
from bakeplan.local_tls import prepare
from contracts.topics import Topic
from infra.messaging.acls import AclAdminError, AclRule, create_acls, existing_acls
from infra.messaging.admin import DAY_MS, MAX_MESSAGE_BYTES, TopicsNotProvisionedError, ensure_topics, topic_config
from infra.messaging.kafka_client import librdkafka_config, new_consumer
from infra.settings import Settings
from tests.e2e.secure_broker import AuthLog, SecureBroker, fresh_prefix, read, secure_broker, write

pytestmark = pytest.mark.e2e

ORCH, FC, PROD, PROC = Principal.ORCHESTRATOR, Principal.FORECASTING, Principal.PRODUCTION, Principal.PROCUREMENT
EXTERNAL, OPERATOR, ADMIN = Principal.EXTERNAL, Principal.OPERATOR, Principal.ADMIN


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_broker(tmp_path_factory.mktemp("secure-kafka")) as started:
        yield started


@pytest.fixture(scope="module")
def prefix(broker: SecureBroker) -> str:
    """This module's installation on the broker: topics and ACLs made by `bakeplan acl apply`."""
    prefix = fresh_prefix()
    applied = broker.bakeplan("acl", "apply", prefix=prefix)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"created {len(acl_rules(broker.settings(topic_prefix=prefix)))}, removed 0, kept 0" in applied.stdout
    return prefix


@pytest.fixture(scope="module")
async def secure(broker: SecureBroker, prefix: str) -> Settings:
    settings = broker.settings(topic_prefix=prefix)
    # something to read on each topic a test reads, written by the admin
    for topic in (Topic.FORECASTING_COMMANDS, Topic.PLANS, Topic.TRIGGERS, Topic.DEAD_LETTER):
        assert (await write(settings, ADMIN, topic)).ok
    return settings


FORBIDDEN_WRITES = [
    (FC, Topic.TRIGGERS),  # a worker cannot start plans
    (PROD, Topic.FORECASTING_COMMANDS),  # nor command another worker
    (PROC, Topic.PLANS),  # nor announce plan outcomes
    (FC, Topic.SNAPSHOTS),
    (EXTERNAL, Topic.FORECASTING_COMMANDS),  # the outside world only starts plans and sends signals
    (EXTERNAL, Topic.STEP_REPLIES),  # and cannot fake a worker's reply
    (EXTERNAL, Topic.DEAD_LETTER),
    (OPERATOR, Topic.SNAPSHOTS),
    (OPERATOR, Topic.DEAD_LETTER),  # `dlq replay` re-publishes parked messages; it cannot park them
    (ORCH, Topic.STEP_REPLIES),  # the orchestrator cannot answer for a worker
    (FC, Topic.PURCHASE_ORDERS),  # only the release step (procurement) and an operator's cancel send orders
    (EXTERNAL, Topic.PURCHASE_ORDERS),  # the outside world cannot forge an order to a supplier
    (PROC, Topic.PURCHASING_EVENTS),  # nor can a worker fake a supplier's confirmation or a receipt
]


@pytest.mark.parametrize(("principal", "topic"), FORBIDDEN_WRITES)
async def test_a_forbidden_write_is_refused_by_the_broker(secure: Settings, principal: Principal, topic: Topic) -> None:
    outcome = await write(secure, principal, topic)
    assert not outcome.ok, f"{principal} wrote to {topic}"
    assert outcome.error == "TopicAuthorizationFailedError", outcome
    assert secure.topic(topic) in outcome.detail


FORBIDDEN_READS = [
    (EXTERNAL, Topic.FORECASTING_COMMANDS, None),
    (EXTERNAL, Topic.TRIGGERS, None),
    (PROD, Topic.FORECASTING_COMMANDS, "production"),  # another worker's commands, even in its own group
    (ORCH, Topic.DEAD_LETTER, None),  # the orchestrator parks, it does not read the parked
    # parked payloads hold tenants' data: only the operator reads them, no role even in its own group
    (FC, Topic.DEAD_LETTER, "forecasting"),
    (PROC, Topic.DEAD_LETTER, "procurement"),
    (Principal.CHANNELS, Topic.DEAD_LETTER, "channels"),
    (EXTERNAL, Topic.DEAD_LETTER, None),
    (OPERATOR, Topic.TRIGGERS, None),
]


@pytest.mark.parametrize(("principal", "topic", "group"), FORBIDDEN_READS)
async def test_a_forbidden_read_is_refused_by_the_broker(
    secure: Settings, principal: Principal, topic: Topic, group: str | None
) -> None:
    outcome = await read(secure, principal, topic, group=group)
    assert not outcome.ok, f"{principal} read {outcome.value} records of {topic}"
    assert outcome.error == "TopicAuthorizationFailedError", outcome


async def test_a_worker_cannot_join_another_roles_consumer_group(secure: Settings) -> None:
    outcome = await read(secure, FC, Topic.FORECASTING_COMMANDS, group="orchestrator")
    assert not outcome.ok
    assert outcome.error == "GroupAuthorizationFailedError", outcome


async def _commit_at_start(settings: Settings, group: str, topic: Topic) -> int:
    """As the forecasting worker, commit offset 0 of `topic`'s partitions in `group`: the group then
    lags by every record on the topic, which is returned."""
    consumer = new_consumer(settings, FC, group_id=settings.group(group), enable_auto_commit=False)
    try:
        await consumer.start()
        name = settings.topic(topic)
        partitions = [TopicPartition(name, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.commit(dict.fromkeys(partitions, 0))
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_the_operator_sees_every_groups_lag_but_cannot_join_a_group(secure: Settings) -> None:
    """The console's health page and the lag gauges describe the workers' groups as the operator."""
    records = await _commit_at_start(secure, "forecasting-lagprobe", Topic.FORECASTING_COMMANDS)
    assert records >= 1
    lag = await health.consumer_lag(secure)
    assert lag.error is None, lag.error
    assert lag.of("forecasting-lagprobe", secure.topic(Topic.FORECASTING_COMMANDS)) == records
    joined = await read(secure, OPERATOR, Topic.FORECASTING_COMMANDS, group="forecasting-lagprobe")
    assert not joined.ok
    assert joined.error == "GroupAuthorizationFailedError", joined


ALLOWED_WRITES = [
    (EXTERNAL, Topic.TRIGGERS),
    (EXTERNAL, Topic.LOW_STOCK),
    (EXTERNAL, Topic.FEEDS),
    (EXTERNAL, Topic.PURCHASING_EVENTS),  # goods-in and suppliers' confirmations
    (PROC, Topic.PURCHASE_ORDERS),
    (FC, Topic.STEP_REPLIES),
    (FC, Topic.DEAD_LETTER),
    (ORCH, Topic.TRIGGERS),
    (ORCH, Topic.SNAPSHOTS),
    (ORCH, Topic.PRODUCTION_COMMANDS),
    (ORCH, Topic.PLANS),
    (ORCH, Topic.ALERTS),
    (OPERATOR, Topic.TRIGGERS),
    (OPERATOR, Topic.PROCUREMENT_COMMANDS),  # `dlq replay` re-publishes to where a message was parked from
]


@pytest.mark.parametrize(("principal", "topic"), ALLOWED_WRITES)
async def test_an_allowed_write_is_stored(secure: Settings, principal: Principal, topic: Topic) -> None:
    outcome = await write(secure, principal, topic)
    assert outcome.ok, outcome
    partition, offset = outcome.value
    assert partition >= 0
    assert offset >= 0


ALLOWED_READS = [
    (FC, Topic.FORECASTING_COMMANDS, "forecasting"),
    (FC, Topic.PLANS, "forecasting-plans"),
    (ORCH, Topic.TRIGGERS, "orchestrator"),
    (OPERATOR, Topic.DEAD_LETTER, None),
]


@pytest.mark.parametrize(("principal", "topic", "group"), ALLOWED_READS)
async def test_an_allowed_read_gets_the_records(
    secure: Settings, principal: Principal, topic: Topic, group: str | None
) -> None:
    outcome = await read(secure, principal, topic, group=group)
    assert outcome.ok, outcome
    assert outcome.value >= 1


def _auth_log() -> Iterator[AuthLog]:
    handler = AuthLog()
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


auth_log = pytest.fixture(_auth_log)


async def test_a_wrong_password_is_refused_at_authentication(secure: Settings, auth_log: AuthLog) -> None:
    wrong = secure.model_copy(update={"kafka_password": SecretStr("not-the-password")})
    outcome = await write(wrong, EXTERNAL, Topic.TRIGGERS)
    assert not outcome.ok
    assert outcome.error == "KafkaConnectionError"
    assert any("SaslAuthenticationFailed" in line and "invalid credentials" in line for line in auth_log.lines)


async def test_an_unknown_user_is_refused_at_authentication(secure: Settings, auth_log: AuthLog) -> None:
    stranger = secure.model_copy(update={"kafka_username": "mallory", "kafka_password": SecretStr("guess")})
    outcome = await write(stranger, EXTERNAL, Topic.TRIGGERS)
    assert not outcome.ok
    assert any("SaslAuthenticationFailed" in line for line in auth_log.lines)


async def _send_unauthenticated(secure: Settings, **security: object) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=secure.kafka_bootstrap, request_timeout_ms=5000, **security)
    try:
        await producer.start()
        await producer.send_and_wait(secure.topic(Topic.TRIGGERS), b"anonymous")
    finally:
        await producer.stop()


async def test_a_client_without_tls_or_credentials_is_refused(secure: Settings) -> None:
    with pytest.raises(KafkaConnectionError):
        await _send_unauthenticated(secure)
    tls_only = ssl.create_default_context(cafile=secure.kafka_ca_file)
    with pytest.raises(KafkaConnectionError):
        await _send_unauthenticated(secure, security_protocol="SSL", ssl_context=tls_only)


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA of another local stack: the broker's certificate is not signed by it."""
    return prepare(tmp_path, []).ca_file


async def test_a_client_that_does_not_trust_the_broker_certificate_is_refused(
    secure: Settings, other_ca: Path, auth_log: AuthLog
) -> None:
    untrusting = secure.model_copy(update={"kafka_ca_file": str(other_ca)})
    outcome = await write(untrusting, EXTERNAL, Topic.TRIGGERS)
    assert not outcome.ok
    assert outcome.error == "KafkaConnectionError"
    assert any("CERTIFICATE_VERIFY_FAILED" in line for line in auth_log.lines)


async def test_only_the_admin_creates_topics(broker: SecureBroker) -> None:
    unprovisioned = broker.settings(topic_prefix=fresh_prefix())
    with pytest.raises(TopicsNotProvisionedError, match="bakeplan acl apply"):
        await ensure_topics(unprovisioned, ORCH)
    created = await ensure_topics(unprovisioned, ADMIN, (Topic.ALERTS,))
    assert created == [unprovisioned.topic(Topic.ALERTS)]


def test_only_the_admin_sees_or_changes_acls(secure: Settings) -> None:
    operator = librdkafka_config(secure, OPERATOR)
    assert existing_acls(operator) == []  # the broker shows an operator none of them
    grant_myself = AclRule(
        f"User:{secure.kafka_user(OPERATOR)}", "topic", secure.topic(Topic.ALERTS), "literal", "read"
    )
    with pytest.raises(AclAdminError, match="CLUSTER_AUTHORIZATION_FAILED"):
        create_acls(operator, [grant_myself])
    on_broker = {r for r in existing_acls(librdkafka_config(secure, ADMIN)) if r.name.startswith(secure.topic(""))}
    assert on_broker == set(acl_rules(secure))


def test_acl_apply_again_changes_nothing_and_dry_run_shows_a_new_installation(
    broker: SecureBroker, prefix: str
) -> None:
    again = broker.bakeplan("acl", "apply", "--json", prefix=prefix)
    assert again.returncode == 0, again.stderr
    assert '"created": []' in again.stdout
    assert '"removed": []' in again.stdout
    new = fresh_prefix()
    dry = broker.bakeplan("acl", "apply", "--dry-run", prefix=new)
    assert dry.returncode == 0, dry.stderr
    count = len(acl_rules(broker.settings(topic_prefix=new)))
    assert f"would create {count}, would remove 0, kept 0" in dry.stdout
    assert not [r for r in existing_acls(librdkafka_config(broker.settings(), ADMIN)) if r.name.startswith(new)]


def test_the_cli_as_operator_says_what_is_wrong_with_a_missing_password(broker: SecureBroker, prefix: str) -> None:
    missing = broker.env["BAKEPLAN_KAFKA_PASSWORD_DIR"] + "-missing"
    listed = broker.bakeplan("dlq", "list", prefix=prefix, BAKEPLAN_KAFKA_PASSWORD_DIR=missing)
    assert listed.returncode == 1
    assert "password of principal 'operator'" in listed.stderr
    assert "Traceback" not in listed.stderr


def test_the_cli_says_the_broker_refused_its_credentials(broker: SecureBroker, prefix: str) -> None:
    listed = broker.bakeplan("dlq", "list", prefix=prefix, BAKEPLAN_KAFKA_PASSWORD="not-the-password")
    assert listed.returncode == 1
    assert "the broker refused the credentials" in listed.stderr
    assert "BAKEPLAN_KAFKA_PASSWORD_DIR" in listed.stderr
    assert "Traceback" not in listed.stderr


async def test_the_dead_letter_topic_keeps_parked_messages_as_long_as_the_setting_says(
    broker: SecureBroker, prefix: str, secure: Settings
) -> None:
    created = await topic_config(secure, ADMIN, Topic.DEAD_LETTER)
    assert created["retention.ms"] == str(30 * DAY_MS)  # BAKEPLAN_DEAD_LETTER_RETENTION_DAYS' default
    applied = broker.bakeplan("acl", "apply", prefix=prefix, BAKEPLAN_DEAD_LETTER_RETENTION_DAYS="3")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    changed = await topic_config(secure, ADMIN, Topic.DEAD_LETTER)
    assert changed["retention.ms"] == str(3 * DAY_MS)
    assert changed["max.message.bytes"] == str(MAX_MESSAGE_BYTES)  # the rest of its configuration kept
    # other topics keep the broker's retention
    assert (await topic_config(secure, ADMIN, Topic.TRIGGERS))["retention.ms"] != str(3 * DAY_MS)
