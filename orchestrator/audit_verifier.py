"""Checking a tenant's audit chain link by link (`ChainVerifier`), and where it starts once the oldest
partitions are archived out of the database (docs/audit.md, "Legal retention"): the last link of
each tenant's archived part, as the heads file written at archiving time holds it (`ArchivedHead`).
`audit.verify` streams the archive through these.
"""

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from orchestrator.audit_links import GENESIS_HASH, AuditEntry, AuditKeys, UnknownAuditKeyError, entry_hash


@dataclass(frozen=True)
class ArchivedHead:
    """The last link of a tenant's chain in partitions archived out of the database: its seq and hash."""

    seq: int
    hash: str


class ArchivedHeadsError(ValueError):
    """An archived-heads file that cannot be read; the message names the line and the fix."""


def read_archived_heads(lines: Iterable[str], source: str) -> dict[str, ArchivedHead]:
    """The heads file written when partitions are archived (docs/audit.md): CSV rows `tenant_id,seq,hash`
    without a header, one per tenant; a tenant twice keeps its highest seq (files of several years
    concatenated)."""
    heads: dict[str, ArchivedHead] = {}
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row:
            continue
        fix = f"{source} line {number}: expected tenant_id,seq,hash (as docs/audit.md's \\copy writes it)"
        if len(row) != 3:
            raise ArchivedHeadsError(f"{fix}, got {len(row)} field(s)")
        tenant, seq, digest = (field.strip() for field in row)
        if not seq.isdigit() or int(seq) < 1:
            raise ArchivedHeadsError(f"{fix}; seq {seq!r} is not a positive whole number")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ArchivedHeadsError(f"{fix}; hash {digest!r} is not 64 lowercase hex digits")
        if tenant not in heads or heads[tenant].seq < int(seq):
            heads[tenant] = ArchivedHead(int(seq), digest)
    return heads


@dataclass(frozen=True)
class BrokenLink:
    """The first place a tenant's chain does not hold, and what differs there."""

    tenant_id: str
    seq: int
    event_id: UUID | None
    problem: str

    def describe(self) -> str:
        event = f" (event {self.event_id})" if self.event_id else ""
        return f"tenant {self.tenant_id}: chain broken at seq {self.seq}{event}: {self.problem}"


class ChainVerifier:
    """Checks one tenant's chain link by link; feed it the tenant's entries in `seq` order."""

    def __init__(
        self, tenant_id: str, keys: AuditKeys, *, allow_unkeyed: bool = False, start: ArchivedHead | None = None
    ) -> None:
        """`allow_unkeyed` accepts plain-sha256 links (from before migration 0014) at the start of the
        chain; an unkeyed link after a keyed one is broken either way. `start` is the last link of the
        tenant's archived part (its partitions moved out of the database, docs/audit.md): the chain
        then goes on from it instead of from the genesis."""
        self.tenant_id = tenant_id
        self.links = 0 if start is None else start.seq
        self.unkeyed = 0
        self._keys = keys
        self._allow_unkeyed = allow_unkeyed
        self._keyed_seen = False
        self._prev_hash = GENESIS_HASH if start is None else start.hash

    def check(self, entry: AuditEntry) -> BrokenLink | None:
        """None when `entry` continues the chain; else what is wrong with it."""
        expected_seq = self.links + 1

        def broken(problem: str) -> BrokenLink:
            return BrokenLink(self.tenant_id, entry.seq, entry.event_id, problem)

        if entry.tenant_id != self.tenant_id:
            return broken(f"tenant_id is {entry.tenant_id!r} inside the chain of {self.tenant_id!r}")
        if entry.seq != expected_seq:
            return BrokenLink(
                self.tenant_id,
                expected_seq,
                entry.event_id,
                f"seq {expected_seq} is missing: the next row has seq {entry.seq}",
            )
        payload_sha = hashlib.sha256(entry.payload).hexdigest()
        if payload_sha != entry.payload_sha256:
            return broken(f"payload changed: its sha256 is {payload_sha}, the row records {entry.payload_sha256}")
        if entry.prev_hash != self._prev_hash:
            return broken(
                f"prev_hash {entry.prev_hash} differs from the hash of seq {entry.seq - 1}, {self._prev_hash}"
            )
        if entry.key_id is None:
            if self._keyed_seen:
                return broken("an unkeyed link after keyed ones: the chain was recomputed without the audit key")
            if not self._allow_unkeyed:
                return broken(
                    "the link is not keyed (no key_id): recorded before migration 0014, or recomputed by a "
                    "database writer without the audit key; `audit verify --allow-unkeyed` accepts such links "
                    "at the start of a chain"
                )
        try:
            computed = entry_hash(entry, self._keys)
        except UnknownAuditKeyError:
            return broken(
                f"key id {entry.key_id!r} is not a key this verifier holds: set BAKEPLAN_AUDIT_KEY/_KEY_ID "
                "to it, or list it in BAKEPLAN_AUDIT_RETIRED_KEYS"
            )
        if computed != entry.hash:
            return broken(
                f"hash {entry.hash} differs from the recomputed {computed}: a hashed field "
                "(event_id, saga_id, event_type, schema_version, direction, topic, payload_sha256, recorded_at, "
                "key_id) changed, or the link was made without the audit key"
            )
        if entry.key_id is None:
            self.unkeyed += 1
        else:
            self._keyed_seen = True
        self.links += 1
        self._prev_hash = entry.hash
        return None

    def check_head(self, head_seq: int | None, head_hash: str | None) -> BrokenLink | None:
        """After the last entry: the chain head must point at it (rows cut off the end show here)."""
        if head_seq is None:
            if self.links == 0:
                return None
            return BrokenLink(self.tenant_id, self.links, None, "the tenant has archived events but no chain head")
        if head_seq != self.links or head_hash != self._prev_hash:
            return BrokenLink(
                self.tenant_id,
                head_seq,
                None,
                f"the chain head records seq {head_seq} with hash {head_hash}, "
                f"but the archive ends at seq {self.links} with hash {self._prev_hash}",
            )
        return None


def verify_chain(
    tenant_id: str,
    entries: Iterable[AuditEntry],
    keys: AuditKeys,
    *,
    head: tuple[int, str] | None = None,
    allow_unkeyed: bool = False,
) -> BrokenLink | None:
    """The first broken link of one tenant's chain (entries in `seq` order), or None if it holds.
    With `head` (seq, hash), also checks that the chain head points at the last entry."""
    verifier = ChainVerifier(tenant_id, keys, allow_unkeyed=allow_unkeyed)
    for entry in entries:
        if (problem := verifier.check(entry)) is not None:
            return problem
    return verifier.check_head(*head) if head is not None else None
