"""Topic creation, idempotent: every process ensures its topics exist before it consumes."""

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from contracts.topics import Topic
from infra.settings import Settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024  # Kafka's default limit, kept on purpose: snapshots must fit it compressed


def topic_configs(topic: Topic) -> dict[str, str]:
    """The configuration bakeplan creates `topic` with (the contract document states it too)."""
    configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    if topic is Topic.DEAD_LETTER:
        configs["retention.ms"] = "-1"  # parked messages wait for a fix and `bakeplan dlq replay`; never expire
    return configs


async def ensure_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="bakeplan-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=settings.topic(topic),
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=topic_configs(topic),
            )
            for topic in Topic
            if settings.topic(topic) not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        await admin.close()
