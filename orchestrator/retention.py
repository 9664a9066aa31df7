"""Retention: what finished sagas and delivered messages leave behind is pruned once it is older than
its horizon, in small batches, each its own short transaction, so the hot path never waits on it.

What goes (docs/retention.md):
- each component's inbox claims, and its outbox rows published, more than `message_days` ago (rows not
  yet published, and rows parked for an operator, stay);
- claim checks older than `message_days` that no unpublished outbox row refers to;
- per saga that ended (COMPLETED, COMPENSATED, FAILED) more than `saga_days` ago: its timeline
  (`saga_log`), its step results and its snapshot (unless a saga not yet pruned refers to the same
  snapshot, or the audit archive does: since migration 0016 the archive keeps each snapshot there, once,
  `orchestrator/audit_snapshots.py`); the saga row stays, marked `pruned_at`: it keeps the day's plan
  taken (invariant 5), and replay and explain find the saga by it;
- effect-log rows older than `saga_days` whose saga ended before then (or that belong to no saga).

Never: a running saga's rows, the saga rows, the audit archive (replay and explain read a saga's
recorded snapshot and messages from it; it has its own legal retention, docs/audit.md).

Why batches and not partitions: the tables are keyed by ids that are not times (an inbox claim by
event id, an outbox row by event id, a saga by id), so partitioning by time would need the time in
every unique key, and a time partition cannot be dropped while one of its sagas still runs. A batch
picks at most `batch_rows` rows with `FOR UPDATE SKIP LOCKED` through an index by age, deletes them by
`ctid` and commits: a row a handler holds is skipped (pruned next time), and no lock is held longer
than one batch (`lock_timeout_ms` bounds any wait). One replica at a time runs the job (a session
advisory lock), in the orchestrator (`retention_interval_seconds`) or from `bakeplan retention run`.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.settings import Settings

log = logging.getLogger(__name__)

COMPONENTS = ("orchestrator", "forecasting", "production", "procurement")
"""The schemas with an inbox, an outbox and an effect log."""
TERMINAL = "('COMPLETED', 'COMPENSATED', 'FAILED')"
LOCK_NAME = "bakeplan.retention"
SAGA_ROWS_PER_SAGA = 20
"""About how many rows one saga's timeline and step results hold: sagas per batch = batch_rows / this."""

Horizon = Literal["saga", "message"]


@dataclass(frozen=True)
class RetentionPolicy:
    saga_days: int
    message_days: int
    batch_rows: int = 5000
    lock_timeout_ms: int = 2000

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetentionPolicy":
        return cls(settings.retention_days, settings.retention_message_days, settings.retention_batch_rows)


@dataclass(frozen=True)
class Prune:
    """Rows of `table` (aliased `t`) matching `where`, which binds `:cutoff`, the horizon's."""

    table: str
    where: str
    horizon: Horizon


def _not_live(alias: str) -> str:
    """No saga that runs, or ended after the cutoff, owns the row."""
    return (
        f"({alias}.saga_id IS NULL OR NOT EXISTS (SELECT 1 FROM orchestrator.sagas s WHERE s.saga_id = "
        f"{alias}.saga_id AND (s.status NOT IN {TERMINAL} OR s.updated_at >= :cutoff)))"
    )


def _unpublished_refers(alias: str) -> str:
    outboxes = " UNION ALL ".join(
        f"SELECT 1 FROM {schema}.outbox o WHERE o.published_at IS NULL AND o.claim_sha256 = {alias}.sha256"
        for schema in COMPONENTS
    )
    return f"EXISTS ({outboxes})"


PRUNES: tuple[Prune, ...] = (
    *(
        prune
        for schema in COMPONENTS
        for prune in (
            Prune(f"{schema}.inbox", "t.received_at < :cutoff", "message"),
            Prune(f"{schema}.outbox", "t.published_at < :cutoff", "message"),
            Prune(f"{schema}.effect_log", f"t.at < :cutoff AND {_not_live('t')}", "saga"),
        )
    ),
    Prune("messaging.claim_checks", f"t.created_at < :cutoff AND NOT {_unpublished_refers('t')}", "message"),
)
"""The time-based prunes, in the order the job runs them."""

PRUNABLE_SAGA = f"s.pruned_at IS NULL AND s.status IN {TERMINAL} AND s.updated_at < :cutoff"
ARCHIVED = "EXISTS (SELECT 1 FROM orchestrator.audit_events a WHERE a.snapshot_sha256 = sn.sha256)"
"""The audit archive refers to the snapshot: it is the archive's copy, kept with it."""


@dataclass
class RetentionReport:
    dry_run: bool
    saga_cutoff: datetime
    message_cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    """Rows deleted (with `dry_run`: that would be) per table."""
    sagas_pruned: int = 0
    batches: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    """Tables a batch could not lock in time this run (pruned next run)."""

    @property
    def rows(self) -> int:
        return sum(self.deleted.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "saga_cutoff": self.saga_cutoff.isoformat(),
            "message_cutoff": self.message_cutoff.isoformat(),
            "deleted": self.deleted,
            "rows": self.rows,
            "sagas_pruned": self.sagas_pruned,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
        }


class RetentionJob:
    """Prunes one database by `policy`. `run` is safe to call from several replicas: one runs, the
    others return None."""

    def __init__(self, engine: AsyncEngine, policy: RetentionPolicy) -> None:
        self._engine = engine
        self._policy = policy

    async def run(self, *, now: datetime, dry_run: bool = False) -> RetentionReport | None:
        """Prune (or with `dry_run` count) what is past its horizon at `now`; None when another
        replica holds the job's lock."""
        async with self._engine.connect() as lock_conn:
            got = (
                await lock_conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:n))"), {"n": LOCK_NAME})
            ).scalar_one()
            await lock_conn.commit()
            if not got:
                return None
            try:
                return await self._run(now, dry_run)
            finally:
                await lock_conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": LOCK_NAME})
                await lock_conn.commit()

    async def _run(self, now: datetime, dry_run: bool) -> RetentionReport:
        p = self._policy
        cutoffs: dict[Horizon, datetime] = {
            "saga": now - timedelta(days=p.saga_days),
            "message": now - timedelta(days=p.message_days),
        }
        report = RetentionReport(dry_run, cutoffs["saga"], cutoffs["message"])
        started = time.perf_counter()
        if dry_run:
            async with self._engine.connect() as conn:
                await self._count(conn, cutoffs, report)
        else:
            await self._prune_sagas(cutoffs["saga"], now, report)
            for prune in PRUNES:
                await self._prune(prune, cutoffs[prune.horizon], report)
        report.seconds = time.perf_counter() - started
        return report

    async def _batch(
        self, work: Callable[[AsyncConnection], Awaitable[int]], table: str, report: RetentionReport
    ) -> int:
        """One short transaction; -1 when it could not take a lock within `lock_timeout_ms`."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(text(f"SET LOCAL lock_timeout = {int(self._policy.lock_timeout_ms)}"))
                n = await work(conn)
        except DBAPIError as exc:
            if "lock timeout" not in str(exc) and "LockNotAvailable" not in type(exc.orig).__name__:
                raise
            log.warning("retention: %s is busy (%s); the rest of it is pruned next run", table, exc.orig)
            report.skipped.append(table)
            return -1
        report.batches += 1
        return n

    async def _prune(self, prune: Prune, cutoff: datetime, report: RetentionReport) -> None:
        statement = text(
            f"DELETE FROM {prune.table} WHERE ctid = ANY(ARRAY("
            f"SELECT t.ctid FROM {prune.table} AS t WHERE {prune.where} LIMIT :n FOR UPDATE SKIP LOCKED))"
        )

        async def delete(conn: AsyncConnection) -> int:
            result = await conn.execute(statement, {"cutoff": cutoff, "n": self._policy.batch_rows})
            return int(result.rowcount or 0)

        while (n := await self._batch(delete, prune.table, report)) > 0:
            report.deleted[prune.table] = report.deleted.get(prune.table, 0) + n
            if n < self._policy.batch_rows:
                break
        report.deleted.setdefault(prune.table, 0)

    async def _prune_sagas(self, cutoff: datetime, now: datetime, report: RetentionReport) -> None:
        per_batch = max(1, self._policy.batch_rows // SAGA_ROWS_PER_SAGA)
        counts = dict.fromkeys(("orchestrator.saga_log", "orchestrator.step_results", "orchestrator.snapshots"), 0)

        async def prune_some(conn: AsyncConnection) -> int:
            rows = (
                await conn.execute(
                    text(
                        f"SELECT s.saga_id, s.snapshot_sha256 FROM orchestrator.sagas s WHERE {PRUNABLE_SAGA} "
                        "ORDER BY s.updated_at LIMIT :k FOR UPDATE SKIP LOCKED"
                    ),
                    {"cutoff": cutoff, "k": per_batch},
                )
            ).all()
            if not rows:
                return 0
            ids = [r.saga_id for r in rows]
            shas = sorted({r.snapshot_sha256 for r in rows})
            for table in ("orchestrator.saga_log", "orchestrator.step_results"):
                done = await conn.execute(text(f"DELETE FROM {table} WHERE saga_id = ANY(:ids)"), {"ids": ids})
                counts[table] += int(done.rowcount or 0)
            await conn.execute(
                text("UPDATE orchestrator.sagas SET pruned_at = :now WHERE saga_id = ANY(:ids)"),
                {"now": now, "ids": ids},
            )
            # after the update: a snapshot goes once every saga that refers to it is pruned, unless the
            # audit archive keeps it (orchestrator/audit_snapshots.py: the archive's one copy)
            done = await conn.execute(
                text(
                    "DELETE FROM orchestrator.snapshots sn WHERE sn.sha256 = ANY(:shas) AND NOT EXISTS ("
                    "SELECT 1 FROM orchestrator.sagas s WHERE s.snapshot_sha256 = sn.sha256 AND s.pruned_at IS NULL)"
                    f" AND NOT {ARCHIVED}"
                ),
                {"shas": shas},
            )
            counts["orchestrator.snapshots"] += int(done.rowcount or 0)
            return len(rows)

        while (n := await self._batch(prune_some, "orchestrator.sagas", report)) > 0:
            report.sagas_pruned += n
            if n < per_batch:
                break
        for table, n in counts.items():
            report.deleted[table] = report.deleted.get(table, 0) + n

    async def _count(self, conn: AsyncConnection, cutoffs: dict[Horizon, datetime], report: RetentionReport) -> None:
        saga_cutoff = {"cutoff": cutoffs["saga"]}

        async def count(sql: str, params: dict[str, Any]) -> int:
            return int((await conn.execute(text(sql), params)).scalar_one())

        report.sagas_pruned = await count(
            f"SELECT count(*) FROM orchestrator.sagas s WHERE {PRUNABLE_SAGA}", saga_cutoff
        )
        for table in ("orchestrator.saga_log", "orchestrator.step_results"):
            report.deleted[table] = await count(
                f"SELECT count(*) FROM {table} x JOIN orchestrator.sagas s ON s.saga_id = x.saga_id "
                f"WHERE {PRUNABLE_SAGA}",
                saga_cutoff,
            )
        report.deleted["orchestrator.snapshots"] = await count(
            "SELECT count(*) FROM orchestrator.snapshots sn WHERE EXISTS (SELECT 1 FROM orchestrator.sagas s "
            f"WHERE s.snapshot_sha256 = sn.sha256 AND {PRUNABLE_SAGA}) AND NOT EXISTS (SELECT 1 FROM "
            "orchestrator.sagas s WHERE s.snapshot_sha256 = sn.sha256 AND s.pruned_at IS NULL "
            f"AND NOT ({PRUNABLE_SAGA})) AND NOT {ARCHIVED}",
            saga_cutoff,
        )
        for prune in PRUNES:
            cutoff = {"cutoff": cutoffs[prune.horizon]}
            report.deleted[prune.table] = await count(
                f"SELECT count(*) FROM {prune.table} AS t WHERE {prune.where}", cutoff
            )


async def run_forever(
    job: RetentionJob, *, interval_seconds: float, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> None:
    """The orchestrator's loop: run the job every `interval_seconds` (the first time one interval after
    start), on the wall clock: data ages in real time, whatever clock plans the days."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            report = await job.run(now=clock())
        except Exception:
            log.exception("retention job failed; retrying at its next interval")
            continue
        if report is not None:
            log.info(
                "retention: pruned %d rows (%d sagas) in %.1f s",
                report.rows,
                report.sagas_pruned,
                report.seconds,
                extra={"retention": report.as_json()},
            )
