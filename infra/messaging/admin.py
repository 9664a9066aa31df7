"""Topic creation, idempotent: every process ensures its topics exist before it consumes.

On a broker with ACLs only the admin may create topics (`bakeplan acl apply` does, docs/security.md):
a process finds them there, and one that finds a topic missing says how to provision it rather than
starting half-wired."""

import logging
from collections.abc import Iterable

from aiokafka.admin import NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import ClusterAuthorizationFailedError, TopicAlreadyExistsError, TopicAuthorizationFailedError
from aiokafka.errors import for_code as kafka_error

from contracts.topics import Topic
from infra.messaging.kafka_client import new_admin
from infra.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024  # Kafka's default limit, kept on purpose: snapshots must fit it compressed
PRODUCTION_REPLICATION = 3


class TopicsNotProvisionedError(RuntimeError):
    """Topics are missing and this principal may not create them."""


DEFAULT_DEAD_LETTER_RETENTION_DAYS = Settings.model_fields["dead_letter_retention_days"].default
DAY_MS = 24 * 60 * 60 * 1000


def topic_configs(
    topic: Topic, *, dead_letter_retention_days: int = DEFAULT_DEAD_LETTER_RETENTION_DAYS
) -> dict[str, str]:
    """The configuration bakeplan creates `topic` with (the contract document states it with the defaults).
    The dead-letter topic keeps parked messages `dead_letter_retention_days` (0: for ever), long enough
    for a fix and `bakeplan dlq replay`; their payloads may hold a tenant's data, so they do not stay
    for ever by default (only the operator may read them, docs/security.md)."""
    configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    if topic is Topic.DEAD_LETTER:
        days = dead_letter_retention_days
        configs["retention.ms"] = str(days * DAY_MS) if days > 0 else "-1"
    return configs


async def apply_topic_configs(settings: Settings, principal: str, topics: Iterable[Topic]) -> list[str]:
    """Set the configuration of existing `topics` to `topic_configs` (e.g. a changed dead-letter
    retention), acting as `principal` (the admin); returns the Kafka names set. AlterConfigs replaces
    a topic's dynamic configuration, so every config bakeplan sets is sent."""
    admin = new_admin(settings, principal, client_id=f"bakeplan-{principal}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        chosen = [t for t in topics if settings.topic(t) in existing]
        # AlterConfigs replaces the whole dynamic configuration: min.insync.replicas is sent again too
        _, durability = replication_for(
            len((await admin.describe_cluster())["brokers"]), settings.topic_replication_factor
        )
        resources = [
            ConfigResource(
                ConfigResourceType.TOPIC,
                settings.topic(t),
                configs=topic_configs(t, dead_letter_retention_days=settings.dead_letter_retention_days) | durability,
            )
            for t in chosen
        ]
        responses = await admin.alter_configs(resources) if resources else []
    finally:
        await admin.close()
    for response in responses:
        for code, message, _, name in response.resources:
            if code:
                raise kafka_error(code)(f"setting the configuration of topic {name}: {message}")
    return [settings.topic(t) for t in chosen]


async def topic_config(settings: Settings, principal: str, topic: Topic) -> dict[str, str]:
    """The broker's configuration of `topic` as `principal` sees it (name → value)."""
    admin = new_admin(settings, principal, client_id=f"bakeplan-{principal}-admin")
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, settings.topic(topic))
        responses = await admin.describe_configs([resource])
    finally:
        await admin.close()
    config: dict[str, str] = {}
    for response in responses:
        for code, message, _, name, entries in response.resources:
            if code:
                raise kafka_error(code)(f"describing the configuration of topic {name}: {message}")
            config.update({entry[0]: entry[1] for entry in entries})
    return config


def replication_for(brokers: int, configured: int | None) -> tuple[int, dict[str, str]]:
    """The replication factor and durability configs of a new topic on a cluster of `brokers`.

    Unless `configured` (BAKEPLAN_TOPIC_REPLICATION_FACTOR) says otherwise: 3 replicas where the
    cluster has 3 brokers or more, with min.insync.replicas=2, so that with the producers' acks=all a
    record is acknowledged only once two brokers hold it and one broker may die without losing it or
    stopping writes; 1 on a smaller cluster (a local single broker), where that is all there is."""
    factor = configured
    if factor is None:
        factor = PRODUCTION_REPLICATION if brokers >= PRODUCTION_REPLICATION else 1
    if factor > brokers:
        raise ValueError(
            f"BAKEPLAN_TOPIC_REPLICATION_FACTOR={factor} but the cluster has {brokers} broker(s); "
            f"set it to at most {brokers}, or leave it unset for the default"
        )
    configs = {"min.insync.replicas": "2"} if factor >= PRODUCTION_REPLICATION else {}
    return factor, configs


async def ensure_topics(
    settings: Settings, principal: str, topics: Iterable[Topic] = tuple(Topic), *, dry_run: bool = False
) -> list[str]:
    """Create those of `topics` that do not exist yet, acting as `principal`; returns the Kafka names
    created (with `dry_run`, those that would be, and nothing is created).

    Raises `TopicsNotProvisionedError` when the broker refuses to create one (its ACLs keep topic
    creation to the admin), and `KafkaError` for any other refusal."""
    admin = new_admin(settings, principal, client_id=f"bakeplan-{principal}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        factor, durability = replication_for(
            len((await admin.describe_cluster())["brokers"]), settings.topic_replication_factor
        )
        missing = [
            NewTopic(
                name=settings.topic(topic),
                num_partitions=settings.topic_partitions,
                replication_factor=factor,
                topic_configs=topic_configs(topic, dead_letter_retention_days=settings.dead_letter_retention_days)
                | durability,
            )
            for topic in topics
            if settings.topic(topic) not in existing
        ]
        if not missing or dry_run:
            return [t.name for t in missing]
        response = await admin.create_topics(missing)
    finally:
        await admin.close()
    created, refused = [], []
    for name, code, *_ in response.topic_errors:
        error = kafka_error(code) if code else None
        if error is None:
            created.append(name)
        elif error in (TopicAuthorizationFailedError, ClusterAuthorizationFailedError):
            refused.append(name)
        elif error is not TopicAlreadyExistsError:  # another process created it first: fine
            raise error(f"creating topic {name}")
    if refused:
        raise TopicsNotProvisionedError(
            f"topics {', '.join(sorted(refused))} do not exist on {settings.kafka_bootstrap} and principal "
            f"{principal!r} may not create them; provision them with `bakeplan acl apply` (as the admin)"
        )
    if created:
        log.info("created topics %s", ", ".join(created))
    return created
