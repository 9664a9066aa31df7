"""FastStream's parse step, made total: its Kafka parser decodes every header value as UTF-8 before the
consumer shell sees the record, so one record with a non-UTF-8 (or null) header value raised inside
FastStream, was never handed to the shell, never parked, and its offset was committed past by the
next record: silently dropped. Found by the fuzz tier (tests/fuzz/test_kafka_consumer.py).

`tolerant_parser` lets FastStream parse a copy whose header values are made decodable, and keeps the
original record as the message's `raw_message`, so the shell decides on, and parks, the exact bytes.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord


def _decodable(value: bytes | None) -> bytes:
    return b"" if value is None else value.decode("utf-8", errors="replace").encode()


async def tolerant_parser(record: ConsumerRecord[bytes, bytes], original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's message for `record`, whatever bytes its header values hold."""
    try:
        return await original(record)
    except (UnicodeDecodeError, AttributeError):
        headers = tuple((name, _decodable(value)) for name, value in record.headers or ())
        message = await original(dataclasses.replace(record, headers=headers))
        message.raw_message = record  # the shell parks the original headers, byte for byte
        return message
