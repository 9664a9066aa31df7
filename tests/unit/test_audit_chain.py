"""The audit hash chain: an intact chain verifies; changing any stored field, removing a row or cutting
the tail makes verification name the seq where the chain breaks."""

import hashlib
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from orchestrator.audit import GENESIS_HASH, AuditEntry, entry_hash, verify_chain

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
        )
        entry = replace(entry, hash=entry_hash(entry))
        entries.append(entry)
        prev = entry.hash
    return entries


def head_of(entries: list[AuditEntry]) -> tuple[int, str]:
    return entries[-1].seq, entries[-1].hash


def test_an_intact_chain_verifies_with_its_head() -> None:
    chain = a_chain(9)
    assert verify_chain(TENANT, chain, head=head_of(chain)) is None
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
}


@pytest.mark.parametrize("field", sorted(TAMPERED_VALUES))
@pytest.mark.parametrize("position", [0, 4, 8])
def test_changing_any_stored_field_names_that_seq(field: str, position: int) -> None:
    chain = a_chain(9)
    head = head_of(chain)
    chain[position] = replace(chain[position], **{field: TAMPERED_VALUES[field]})
    broken = verify_chain(TENANT, chain, head=head)
    assert broken is not None, f"changing {field} at seq {position + 1} went unnoticed"
    assert broken.seq == position + 1
    assert broken.tenant_id == TENANT
    assert f"seq {position + 1}" in broken.describe()


def test_a_forged_payload_with_its_own_sha_still_breaks_the_hash() -> None:
    chain = a_chain(5)
    forged = b'{"quantity":40}'
    chain[2] = replace(chain[2], payload=forged, payload_sha256=hashlib.sha256(forged).hexdigest())
    broken = verify_chain(TENANT, chain)
    assert broken is not None
    assert (broken.seq, broken.event_id) == (3, chain[2].event_id)
    assert "recomputed" in broken.problem


def test_a_removed_row_names_the_missing_seq() -> None:
    chain = a_chain(6)
    del chain[3]
    broken = verify_chain(TENANT, chain, head=(6, "x"))
    assert broken is not None
    assert broken.seq == 4
    assert "seq 4 is missing" in broken.problem


def test_rows_cut_off_the_end_show_against_the_chain_head() -> None:
    chain = a_chain(6)
    head = head_of(chain)
    broken = verify_chain(TENANT, chain[:4], head=head)
    assert broken is not None
    assert broken.seq == 6
    assert "ends at seq 4" in broken.problem


def test_a_row_re_linked_after_a_change_breaks_at_the_next_link() -> None:
    """Re-hashing a changed row (without rewriting every later row) moves the break one link on."""
    chain = a_chain(5)
    changed = replace(chain[1], topic="bakeplan.alerts")
    chain[1] = replace(changed, hash=entry_hash(changed))
    broken = verify_chain(TENANT, chain)
    assert broken is not None
    assert broken.seq == 3
    assert "prev_hash" in broken.problem
