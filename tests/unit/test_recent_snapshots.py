"""The orchestrator's in-memory snapshots (orchestrator/stores/postgres.py, `RecentSnapshots`): a
running saga's snapshot is validated once, and the cache stays within its count and byte bounds."""

from datetime import date

import pytest

from contracts.planning import PlanningSnapshot
from lab.synthetic import generate_tenant
from orchestrator import audit_snapshots
from orchestrator.stores.snapshot_store import RecentSnapshots, SizedLru

pytestmark = pytest.mark.unit

TODAY = date(2026, 3, 16)


def snapshots(count: int) -> list[PlanningSnapshot]:
    tenant = generate_tenant("recent", profile="small", seed=3, today=TODAY)
    return [tenant.planning_snapshot(business_date=TODAY, horizon_days=1 + n) for n in range(count)]


def test_a_snapshot_put_is_the_same_object_got_back_and_an_unknown_sha_is_none() -> None:
    cache = RecentSnapshots()
    (one,) = snapshots(1)
    cache.put("a" * 64, one, 1_000)
    assert cache.get("a" * 64) is one
    assert cache.get("b" * 64) is None


def test_the_least_recently_used_go_first_when_there_are_too_many() -> None:
    cache = RecentSnapshots(max_entries=2)
    a, b, c = snapshots(3)
    cache.put("a", a, 10)
    cache.put("b", b, 10)
    assert cache.get("a") is a  # now b is the least recently used
    cache.put("c", c, 10)
    assert cache.get("b") is None
    assert cache.get("a") is a
    assert cache.get("c") is c


def test_the_bodies_bytes_bound_the_cache_and_one_too_large_is_not_kept() -> None:
    cache = RecentSnapshots(max_bytes=100)
    a, b, c = snapshots(3)
    cache.put("a", a, 60)
    cache.put("b", b, 30)
    cache.put("c", c, 30)  # 120 bytes: a goes
    assert cache.get("a") is None
    assert cache.get("b") is b
    cache.put("huge", a, 101)
    assert cache.get("huge") is None
    assert cache.get("c") is c


def test_the_audit_archives_snapshot_parts_are_bounded_by_their_bytes_not_only_their_count() -> None:
    cache: SizedLru[dict[str, bytes]] = audit_snapshots.new_parts_cache()
    megabyte = {"sales": b"x" * 1024 * 1024}
    for n in range(5):
        cache.put(f"sha-{n}", megabyte, 1024 * 1024)
    # 32 entries would fit by count: the bytes keep four of them
    assert cache.get("sha-0") is None
    assert all(cache.get(f"sha-{n}") is megabyte for n in range(1, 5))
