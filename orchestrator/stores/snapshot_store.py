"""The orchestrator's recorded snapshots: stored once by SHA-256 (`PostgresSnapshots`), and those of
the sagas running in this process validated once (`RecentSnapshots`)."""

import hashlib
from collections import OrderedDict
from typing import Generic, TypeVar

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.planning import PlanningSnapshot
from orchestrator.ports import StoredSnapshot
from orchestrator.tables import snapshots

V = TypeVar("V")


class SizedLru(Generic[V]):
    """Values by key, bounded by count and by the bytes they stand for, the least recently used going
    first; a value larger than the whole bound is not kept. For content-addressed, immutable values,
    so an entry can never be stale."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes

    def get(self, key: str) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: str, value: V, size: int) -> None:
        if key in self._entries or size > self._max_bytes:
            return
        self._entries[key] = (value, size)
        self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped


class RecentSnapshots(SizedLru[PlanningSnapshot]):
    """The snapshots of the sagas running here, validated once, by SHA-256: a saga's steps plan from
    the snapshot its first step took, and reading and validating it again for every step cost more
    than the step's own bookkeeping. Bounded by count and by the bytes of their bodies. A standard
    tenant's snapshot (~230 KB of JSON) takes ~2.5 MB as objects: 2 MB of bodies keep about nine
    of them (~25 MB), and about 300 tiny ones. The count bound is loose (1,024): at 64, with 64 tiny
    sagas in flight, most steps missed and read the snapshot again."""

    def __init__(self, *, max_entries: int = 1024, max_bytes: int = 2 * 1024 * 1024) -> None:
        super().__init__(max_entries=max_entries, max_bytes=max_bytes)


RECENT_SNAPSHOTS = RecentSnapshots()
"""The orchestrator process's one cache (`PostgresSnapshots` reads and fills it)."""


_ADD = pg_insert(snapshots).on_conflict_do_nothing()
SNAPSHOT_BODY = select(snapshots.c.body).where(snapshots.c.sha256 == bindparam("b_sha256"))
"""Built once, their values bound at each call (`SNAPSHOT_BODY`: the audit archive reads bodies with it too)."""


class PostgresSnapshots:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.added_bytes: list[int] = []
        """Sizes of the snapshots this unit of work recorded (reported once it commits)."""

    async def add(self, snapshot: PlanningSnapshot) -> StoredSnapshot:
        body = orjson.dumps(snapshot.model_dump())
        sha = hashlib.sha256(body).hexdigest()
        await self._conn.execute(
            _ADD, {"sha256": sha, "tenant_id": snapshot.tenant_id, "size_bytes": len(body), "body": body}
        )
        self.added_bytes.append(len(body))
        # a unit of work that rolls back leaves its entry: harmless, the same SHA is the same snapshot
        RECENT_SNAPSHOTS.put(sha, snapshot, len(body))
        return StoredSnapshot(sha, len(body))

    async def get(self, sha256: str) -> PlanningSnapshot:
        cached = RECENT_SNAPSHOTS.get(sha256)
        if cached is not None:
            return cached
        body = (await self._conn.execute(SNAPSHOT_BODY, {"b_sha256": sha256})).scalar_one()
        snapshot = PlanningSnapshot.model_validate_json(body)
        RECENT_SNAPSHOTS.put(sha256, snapshot, len(body))
        return snapshot
