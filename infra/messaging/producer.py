"""The Kafka producer every bakeplan process publishes with."""

from aiokafka import AIOKafkaProducer

from infra.settings import Settings


def create_producer(settings: Settings) -> AIOKafkaProducer:
    """Idempotent producer with acks=all; compression (zstd unless BAKEPLAN_KAFKA_COMPRESSION says
    otherwise) keeps large snapshots under the broker's 1 MiB limit (the client-side size check is on
    uncompressed bytes, so it is raised; the broker still checks the compressed batch against its own
    limit)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="bakeplan",
        enable_idempotence=True,
        acks="all",
        compression_type=None if settings.kafka_compression == "none" else settings.kafka_compression,
        linger_ms=2,
        max_request_size=16 * 1024 * 1024,
    )
