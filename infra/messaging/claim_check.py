"""Claim check: a payload too large to travel inline is stored once in Postgres, keyed by its
SHA-256, and the Kafka record carries only a reference (the `claim_check.sha256` header and a small
JSON body naming the message). The consumer shell resolves it before decoding, so a handler never
sees the difference (docs/resilience.md).

The claim row commits in the same transaction as the outbox row that refers to it, so it exists
before the record can be published; the content address makes a second store of the same bytes a
no-op and lets the consumer check what it read.
"""

import hashlib
import re

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.errors import InvalidMessageError
from infra.messaging.tables import claim_checks

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


async def store(conn: AsyncConnection, payload: bytes) -> str:
    """Keep `payload` in the caller's transaction; returns its address (SHA-256, hex)."""
    digest = sha256_of(payload)
    await conn.execute(
        pg_insert(claim_checks)
        .values(sha256=digest, payload=payload, size_bytes=len(payload))
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


def reference(digest: str, *, size_bytes: int, event_type: str, event_id: str, tenant_id: str) -> bytes:
    """The body a claim-checked record carries: enough to tell what it is (e.g. on the dead-letter
    topic) without the payload."""
    return orjson.dumps(
        {
            "claim_check": {"sha256": digest, "size_bytes": size_bytes},
            "event_type": event_type,
            "event_id": event_id,
            "tenant_id": tenant_id,
        }
    )


class ClaimChecks:
    """Resolves references for the consumer shell, on the process's engine."""

    def __init__(self, engine: AsyncEngine, *, max_bytes: int) -> None:
        self._engine = engine
        self._max_bytes = max_bytes

    async def resolve(self, digest: str) -> bytes:
        """The payload stored under `digest`. Raises `InvalidMessageError` when there is none, when it
        is larger than `max_bytes` or when its content does not hash to `digest` (the record is parked);
        a database error propagates (the consumer retries while the database is unavailable)."""
        if _SHA256_HEX.fullmatch(digest) is None:
            # checked before the query: a NUL byte in the header made Postgres refuse the statement, an
            # error the consumer raised out of its handler (found by the fuzz tier)
            raise InvalidMessageError(
                f"claim check {digest[:80]!r}: not a SHA-256 in hex (64 characters 0-9a-f); "
                "the record's claim_check.sha256 header is corrupt"
            )
        async with self._engine.connect() as conn:
            payload = (
                await conn.execute(select(claim_checks.c.payload).where(claim_checks.c.sha256 == digest))
            ).scalar_one_or_none()
        if payload is None:
            raise InvalidMessageError(
                f"claim check {digest}: no payload stored under this SHA-256 in messaging.claim_checks; "
                "the record refers to a payload this database never held (another installation's record?)"
            )
        if len(payload) > self._max_bytes:
            raise InvalidMessageError(
                f"claim check {digest}: payload of {len(payload)} bytes exceeds the limit of {self._max_bytes} "
                "bytes (BAKEPLAN_MAX_MESSAGE_BYTES)"
            )
        if sha256_of(payload) != digest:
            raise InvalidMessageError(f"claim check {digest}: the stored payload does not hash to its address")
        return bytes(payload)
