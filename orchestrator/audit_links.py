"""The audit chain's links: the keys (`BAKEPLAN_AUDIT_KEY`, rotation by key id) and the hash of one
link, HMAC-SHA256 under a key Postgres does not hold (plain sha256 for links from before migration
0014). `orchestrator.audit` builds and verifies chains from these."""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import orjson

from infra.settings import DEV_AUDIT_KEY, DEV_AUDIT_KEY_ID, Settings


@dataclass(frozen=True)
class AuditKeys:
    """The HMAC keys of the chain: `key_id`/`secret` keys new links; `retired` ({key id: secret})
    only verifies links made before a rotation. Secrets come from settings, never from Postgres."""

    key_id: str
    secret: bytes = field(repr=False)
    retired: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def secret_for(self, key_id: str) -> bytes | None:
        return self.secret if key_id == self.key_id else self.retired.get(key_id)

    @property
    def is_dev_key(self) -> bool:
        return self.secret == DEV_AUDIT_KEY.encode()


DEV_AUDIT_KEYS = AuditKeys(DEV_AUDIT_KEY_ID, DEV_AUDIT_KEY.encode())
"""The development key every setting defaults to: NOT a secret (it is in the source code)."""


def audit_keys(settings: Settings) -> AuditKeys:
    """The chain's keys from `BAKEPLAN_AUDIT_KEY`, `BAKEPLAN_AUDIT_KEY_ID`, `BAKEPLAN_AUDIT_RETIRED_KEYS`."""
    return AuditKeys(
        settings.audit_key_id,
        settings.audit_key.get_secret_value().encode(),
        {k: v.get_secret_value().encode() for k, v in settings.audit_retired_keys.items()},
    )


class UnknownAuditKeyError(LookupError):
    """A link names a key id this process does not hold."""


def link_hash(
    *,
    prev_hash: str,
    seq: int,
    event_id: UUID,
    tenant_id: str,
    saga_id: UUID | None,
    event_type: str,
    schema_version: int,
    direction: str,
    topic: str,
    payload_sha256: str,
    recorded_at: datetime,
    key: tuple[str, bytes] | None,
) -> str:
    """The hash (hex) of one link over a JSON array of the previous hash and every stored field but
    the payload, which enters through its own sha256. A JSON array, not a joined string, so that no
    two different rows have the same canonical form. With `key` (key id, secret): HMAC-SHA256 under
    the secret, the key id appended to the array; without (links from before migration 0014): sha256."""
    fields: list[object] = [
        prev_hash,
        seq,
        str(event_id),
        tenant_id,
        str(saga_id) if saga_id is not None else None,
        event_type,
        schema_version,
        direction,
        topic,
        payload_sha256,
        recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
    ]
    if key is None:
        return hashlib.sha256(orjson.dumps(fields)).hexdigest()
    key_id, secret = key
    return hmac.new(secret, orjson.dumps([*fields, key_id]), hashlib.sha256).hexdigest()


GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One archived event, as stored. `payload` is the encoded message (decode it with `codec.decode`)."""

    event_id: UUID
    tenant_id: str
    saga_id: UUID | None  # None: a low-stock signal, received before any saga (low_stock_signals links it)
    seq: int
    event_type: str
    schema_version: int
    direction: str
    topic: str
    payload: bytes
    payload_sha256: str
    prev_hash: str
    hash: str
    recorded_at: datetime
    key_id: str | None = None  # None: a link from before migration 0014, plain sha256 (unkeyed)
    snapshot_sha256: str | None = None  # the row stores its snapshot by reference (orchestrator/audit_snapshots.py)


def entry_hash(entry: AuditEntry, keys: AuditKeys) -> str:
    """The hash `entry` should carry given its fields, its `prev_hash` and its `key_id`.
    Raises `UnknownAuditKeyError` when `keys` does not hold the entry's key id."""
    key: tuple[str, bytes] | None = None
    if entry.key_id is not None:
        secret = keys.secret_for(entry.key_id)
        if secret is None:
            raise UnknownAuditKeyError(entry.key_id)
        key = (entry.key_id, secret)
    return link_hash(
        prev_hash=entry.prev_hash,
        seq=entry.seq,
        event_id=entry.event_id,
        tenant_id=entry.tenant_id,
        saga_id=entry.saga_id,
        event_type=entry.event_type,
        schema_version=entry.schema_version,
        direction=entry.direction,
        topic=entry.topic,
        payload_sha256=entry.payload_sha256,
        recorded_at=entry.recorded_at,
        key=key,
    )
