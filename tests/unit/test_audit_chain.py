"""The audit hash chain: an intact chain verifies; changing any stored field, removing a row or cutting
the tail makes verification name the seq where the chain breaks; a chain rewritten and recomputed
without the audit key (unkeyed, or under another key) does not verify; key rotation keeps old links
verifiable with the retired key."""

import hashlib
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from orchestrator.audit import DEV_AUDIT_KEYS as KEYS
from orchestrator.audit import GENESIS_HASH, AuditEntry, AuditKeys, entry_hash, verify_chain

pytestmark = pytest.mark.unit
TENANT = "bakery-001"
START = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)


def a_chain(n: int, *, tenant_id: str = TENANT) -> list[AuditEntry]:
    """n linked entries, as `audit._append` builds them."""
    saga = uuid4()
    entries: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        payload = f'{{"event_type":"e{seq}","n":{seq}}}'.encode()
        entry = AuditEntry(
            event_id=uuid4(),
            tenant_id=tenant_id,
            saga_id=saga,
            seq=seq,
            event_type=f"planning.e{seq}",
            schema_version=1,
            direction="in" if seq % 2 else "out",
            topic="bakeplan.planning.replies",
            payload=payload,
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            prev_hash=prev,
            hash="",
            recorded_at=START + timedelta(milliseconds=seq),
            key_id=KEYS.key_id,
        )
        entry = replace(entry, hash=entry_hash(entry, KEYS))
        entries.append(entry)
        prev = entry.hash
    return entries


def head_of(entries: list[AuditEntry]) -> tuple[int, str]:
    return entries[-1].seq, entries[-1].hash


def test_an_intact_chain_verifies_with_its_head() -> None:
    chain = a_chain(9)
    assert verify_chain(TENANT, chain, KEYS, head=head_of(chain)) is None
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))


TAMPERED_VALUES: dict[str, Any] = {
    "event_id": UUID(int=7),
    "saga_id": UUID(int=8),
    "event_type": "procurement.procurement_planned",
    "schema_version": 2,
    "direction": "zz",
    "topic": "bakeplan.planning.plans",
    "payload": b'{"forged":true}',
    "payload_sha256": "f" * 64,
    "prev_hash": "e" * 64,
    "hash": "d" * 64,
    "recorded_at": START + timedelta(days=1),
    "tenant_id": "bakery-002",
    "key_id": "rotated-away",
}


@pytest.mark.parametrize("field", sorted(TAMPERED_VALUES))
@pytest.mark.parametrize("position", [0, 4, 8])
def test_changing_any_stored_field_names_that_seq(field: str, position: int) -> None:
    chain = a_chain(9)
    head = head_of(chain)
    chain[position] = replace(chain[position], **{field: TAMPERED_VALUES[field]})
    broken = verify_chain(TENANT, chain, KEYS, head=head)
    assert broken is not None, f"changing {field} at seq {position + 1} went unnoticed"
    assert broken.seq == position + 1
    assert broken.tenant_id == TENANT
    assert f"seq {position + 1}" in broken.describe()


def test_a_forged_payload_with_its_own_sha_still_breaks_the_hash() -> None:
    chain = a_chain(5)
    forged = b'{"quantity":40}'
    chain[2] = replace(chain[2], payload=forged, payload_sha256=hashlib.sha256(forged).hexdigest())
    broken = verify_chain(TENANT, chain, KEYS)
    assert broken is not None
    assert (broken.seq, broken.event_id) == (3, chain[2].event_id)
    assert "recomputed" in broken.problem


def test_a_removed_row_names_the_missing_seq() -> None:
    chain = a_chain(6)
    del chain[3]
    broken = verify_chain(TENANT, chain, KEYS, head=(6, "x"))
    assert broken is not None
    assert broken.seq == 4
    assert "seq 4 is missing" in broken.problem


def test_rows_cut_off_the_end_show_against_the_chain_head() -> None:
    chain = a_chain(6)
    head = head_of(chain)
    broken = verify_chain(TENANT, chain[:4], KEYS, head=head)
    assert broken is not None
    assert broken.seq == 6
    assert "ends at seq 4" in broken.problem


def test_a_row_re_linked_after_a_change_breaks_at_the_next_link() -> None:
    """Re-hashing a changed row (without rewriting every later row) moves the break one link on."""
    chain = a_chain(5)
    changed = replace(chain[1], topic="bakeplan.alerts")
    chain[1] = replace(changed, hash=entry_hash(changed, KEYS))
    broken = verify_chain(TENANT, chain, KEYS)
    assert broken is not None
    assert broken.seq == 3
    assert "prev_hash" in broken.problem


# --- the keyed chain: a writer without the key cannot recompute it ---------------------------------

ATTACKER = AuditKeys(KEYS.key_id, b"a guess at the key, which is not in Postgres")


def relinked(chain: list[AuditEntry], start: int, keys: AuditKeys | None) -> list[AuditEntry]:
    """`chain` with every link from index `start` on recomputed, as a database writer who rewrote a
    row would do to hide it: unkeyed sha256 links (`keys` None) or HMACs under `keys`."""
    out = chain[:start]
    prev = out[-1].hash if out else GENESIS_HASH
    for entry in chain[start:]:
        entry = replace(entry, prev_hash=prev, key_id=None if keys is None else keys.key_id)
        entry = replace(entry, hash=entry_hash(entry, keys or KEYS))
        out.append(entry)
        prev = entry.hash
    return out


def rewritten(chain: list[AuditEntry], index: int) -> list[AuditEntry]:
    forged = b'{"quantity":400}'
    chain = list(chain)
    chain[index] = replace(chain[index], payload=forged, payload_sha256=hashlib.sha256(forged).hexdigest())
    return chain


@pytest.mark.parametrize("allow_unkeyed", [False, True])
def test_a_rewritten_chain_recomputed_without_a_key_is_detected(allow_unkeyed: bool) -> None:
    chain = relinked(rewritten(a_chain(6), 2), 2, None)
    broken = verify_chain(TENANT, chain, KEYS, head=head_of(chain), allow_unkeyed=allow_unkeyed)
    assert broken is not None
    assert broken.seq == 3
    assert "unkeyed link after keyed ones" in broken.problem


def test_a_chain_recomputed_unkeyed_from_its_first_link_is_not_accepted_by_default() -> None:
    chain = relinked(rewritten(a_chain(6), 2), 0, None)
    broken = verify_chain(TENANT, chain, KEYS, head=head_of(chain))
    assert broken is not None
    assert broken.seq == 1
    assert "not keyed" in broken.problem


def test_a_rewritten_chain_recomputed_under_a_wrong_key_is_detected() -> None:
    chain = relinked(rewritten(a_chain(6), 2), 2, ATTACKER)
    broken = verify_chain(TENANT, chain, KEYS, head=head_of(chain))
    assert broken is not None
    assert (broken.seq, broken.event_id) == (3, chain[2].event_id)
    assert "made without the audit key" in broken.problem
    # recomputed from the first link on: broken at seq 1 under the real key, yet whole under the key it was
    # made with, so the verdict comes from the key, not from the chain's layout
    whole = relinked(rewritten(a_chain(6), 2), 0, ATTACKER)
    first = verify_chain(TENANT, whole, KEYS, head=head_of(whole))
    assert first is not None
    assert first.seq == 1
    assert verify_chain(TENANT, whole, ATTACKER, head=head_of(whole)) is None


def test_after_a_rotation_old_links_verify_with_the_retired_key() -> None:
    old = AuditKeys("2026-a", b"the first key, now retired....")
    new = AuditKeys("2026-b", b"the current key after rotation", {"2026-a": old.secret})
    chain = relinked(a_chain(3), 0, old)
    chain = relinked(chain + a_chain(6)[3:], 3, new)
    assert [e.key_id for e in chain] == ["2026-a"] * 3 + ["2026-b"] * 3
    assert verify_chain(TENANT, chain, new, head=head_of(chain)) is None
    forgot = verify_chain(TENANT, chain, AuditKeys("2026-b", new.secret), head=head_of(chain))
    assert forgot is not None
    assert forgot.seq == 1
    assert "'2026-a' is not a key this verifier holds" in forgot.problem


def test_unkeyed_links_from_before_the_key_verify_only_when_allowed() -> None:
    chain = relinked(relinked(a_chain(5), 0, None), 2, KEYS)
    assert verify_chain(TENANT, chain, KEYS, head=head_of(chain), allow_unkeyed=True) is None
    refused = verify_chain(TENANT, chain, KEYS, head=head_of(chain))
    assert refused is not None
    assert refused.seq == 1
