"""Topic creation, idempotent: every process ensures its topics exist before it consumes.

On a broker with ACLs only the admin may create topics (`bakeplan acl apply` does, docs/security.md):
a process finds them there, and one that finds a topic missing says how to provision it rather than
starting half-wired."""

import logging
from collections.abc import Iterable

from aiokafka.admin import NewTopic
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


def topic_configs(topic: Topic) -> dict[str, str]:
    """The configuration bakeplan creates `topic` with (the contract document states it too)."""
    configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    if topic is Topic.DEAD_LETTER:
        configs["retention.ms"] = "-1"  # parked messages wait for a fix and `bakeplan dlq replay`; never expire
    return configs


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
                topic_configs=topic_configs(topic) | durability,
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
